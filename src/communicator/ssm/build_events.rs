//! How a build hears about its Session Manager sessions: each started session is recorded in
//! the build's ledger (kind `ssm_session`, so `rpack cleanup` can end it if the build dies)
//! and its termination recorded as the deletion; the transport's progress lines (waiting for
//! the agent to register) go to the build's UI.

use std::sync::Arc;

use super::SessionEvents;
use crate::ledger::{Ledger, ResourceKind};
use crate::ui::Ui;

/// The ledger kind of a Session Manager session.
pub const LEDGER_KIND: ResourceKind = ResourceKind::SsmSession;

pub struct BuildSessions {
    pub ledger: Arc<Ledger>,
    pub ui: Arc<dyn Ui>,
    pub region: String,
}

impl SessionEvents for BuildSessions {
    fn started(&self, session_id: &str) {
        self.ledger.created(LEDGER_KIND, session_id, &self.region);
        self.ui
            .message(&format!("Session Manager session {session_id} started"));
    }

    fn terminated(&self, session_id: &str) {
        self.ledger.deleted(LEDGER_KIND, session_id, &self.region);
        self.ui
            .message(&format!("Session Manager session {session_id} terminated"));
    }

    fn say(&self, line: &str) {
        self.ui.say(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{outstanding, LedgerEvent};
    use crate::ui::testing::Recording;

    #[test]
    fn sessions_are_open_in_the_ledger_until_terminated() {
        let ledger = Arc::new(Ledger::in_memory("b"));
        let ui = Arc::new(Recording::new());
        let ev = BuildSessions {
            ledger: ledger.clone(),
            ui: ui.clone(),
            region: "eu-west-1".into(),
        };
        ev.started("s-1");
        ev.started("s-2");
        ev.terminated("s-1");
        let open = outstanding(&ledger.entries());
        assert_eq!(open.len(), 1);
        assert_eq!(
            (
                open[0].kind.as_str(),
                open[0].id.as_str(),
                open[0].region.as_str()
            ),
            (LEDGER_KIND.as_str(), "s-2", "eu-west-1")
        );
        assert_eq!(open[0].event, LedgerEvent::Created);
        ev.say("Waiting for the SSM agent on i-1 to register with Systems Manager...");
        let said = ui.lines();
        assert!(said.iter().any(|l| l.contains("s-2")), "{said:?}");
        assert!(
            said.iter()
                .any(|l| l.contains("Session Manager session s-1 terminated")),
            "{said:?}"
        );
        assert!(
            said.iter().any(|l| l.contains("Waiting for the SSM agent")),
            "{said:?}"
        );
    }
}
