//! Printing diagnostics the way Packer's HCL diagnostics writer does
//! (`Error: <summary>\n\n<detail wrapped at 80>\n\n`).

use crate::plan::{Diag, Severity};
use crate::ui::{wrap_string, Ui};

/// Width Packer's diagnostics writer wraps details at.
const DIAG_WIDTH: usize = 80;

/// Renders diagnostics as one block, exactly like Packer's `writeDiags`.
pub(super) fn render_diags(diags: &[Diag]) -> String {
    let mut s = String::new();
    for d in diags {
        let label = match d.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        s.push_str(&format!("{label}: {}\n\n", d.summary));
        if !d.detail.is_empty() {
            s.push_str(&wrap_string(&d.detail, DIAG_WIDTH));
            s.push_str("\n\n");
        }
    }
    s
}

/// Prints diagnostics (if any); returns 1 when one of them is an error.
pub(super) fn write_diags(ui: &dyn Ui, diags: &[Diag]) -> i32 {
    if diags.is_empty() {
        return 0;
    }
    // Masked before `render_diags` wraps details at 80 columns (a secret with spaces would be
    // split across lines and escape the mask).
    let masked: Vec<Diag> = diags
        .iter()
        .map(|d| Diag {
            severity: d.severity,
            summary: ui.mask(&d.summary),
            detail: ui.mask(&d.detail),
        })
        .collect();
    ui.error(&render_diags(&masked));
    i32::from(diags.iter().any(|d| d.severity == Severity::Error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diags_are_laid_out_like_packer() {
        let d = vec![
            Diag {
                severity: Severity::Error,
                summary: "Failed to prepare build: \"file\"".into(),
                detail: "1 error(s) occurred:\n\n* target required".into(),
            },
            Diag {
                severity: Severity::Warning,
                summary: "Warning when preparing build: \"y\"".into(),
                detail: "careful".into(),
            },
        ];
        assert_eq!(
            render_diags(&d),
            "Error: Failed to prepare build: \"file\"\n\n1 error(s) occurred:\n\n* target required\n\nWarning: Warning when preparing build: \"y\"\n\ncareful\n\n"
        );
    }
}
