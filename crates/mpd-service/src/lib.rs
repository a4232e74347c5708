//! mpd-service
