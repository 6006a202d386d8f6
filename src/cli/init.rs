//! `rpack init` and `rpack plugins installed|required`: Packer's plugin commands, answered
//! honestly. rpack's builders, provisioners and post-processors are built in, so there is
//! nothing to install; the commands succeed (CI scripts that run `packer init` keep working)
//! and say so. Not offered when called as `packer`: Packer 1.6.6 has neither command.

use crate::ui::Ui;

pub(super) const HELP: &str = "Usage: rpack init [TEMPLATE]
       rpack plugins installed
       rpack plugins required [TEMPLATE]

  rpack needs no plugins: every builder, provisioner and post-processor it
  implements is built in. These commands succeed without installing anything.";

fn builtins() -> String {
    format!(
        "builders: {}; provisioners: {}; post-processors: {}",
        crate::plan::registry::BUILDER_KINDS.join(", "),
        crate::provisioners::KINDS.join(", "),
        crate::post_processors::KINDS.join(", ")
    )
}

/// `rpack init [TEMPLATE]`.
pub(super) fn init(ui: &dyn Ui, _rest: &[String]) -> i32 {
    ui.say(&format!(
        "rpack needs no plugins: nothing to install. Built in: {}.",
        builtins()
    ));
    0
}

/// `rpack plugins installed|required [TEMPLATE]`.
pub(super) fn plugins(ui: &dyn Ui, rest: &[String]) -> i32 {
    match rest.first().map(String::as_str) {
        Some("installed") => {
            ui.say(&format!(
                "rpack needs no plugins; none are installed. Built in: {}.",
                builtins()
            ));
            0
        }
        Some("required") => {
            ui.say("rpack needs no plugins: the template requires none.");
            0
        }
        _ => {
            ui.say(HELP);
            1
        }
    }
}
