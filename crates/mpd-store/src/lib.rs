//! mpd-store
