//! mpd-testkit
