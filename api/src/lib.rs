//! Paliadin API library.
