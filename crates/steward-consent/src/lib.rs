//! steward-consent: under construction in this session.

#![forbid(unsafe_code)]
