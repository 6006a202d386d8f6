//! Unit tests of the upgrader.
