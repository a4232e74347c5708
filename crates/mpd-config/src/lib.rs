//! mpd-config
