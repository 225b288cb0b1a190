//! steward-logs: under construction in this session.

#![forbid(unsafe_code)]
