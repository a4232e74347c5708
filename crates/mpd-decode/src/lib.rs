//! mpd-decode
