//! Live queries through the Query API and the tolerant parsing of their answers.
