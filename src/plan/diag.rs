//! Diagnostics: what checking a template found, printed like Packer's HCL diagnostics writer
//! (`Error: <summary>\n\n<detail>`).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One diagnostic.
#[derive(Debug, Clone, PartialEq)]
pub struct Diag {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
}

impl Diag {
    pub(crate) fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diag {
        Diag {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
        }
    }
}
