//! `breakpoint` configuration: `note` and `disable`.

use crate::decoder::Decoder;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub note: String,
    pub disable: bool,
}

pub fn decode(d: &mut Decoder) -> Config {
    Config {
        note: d.string("note").unwrap_or_default(),
        disable: d.bool("disable").unwrap_or(false),
    }
}
