//! Post-processors (`manifest`, `shell-local`, `checksum`) and chain semantics.
