//! mpd-api
