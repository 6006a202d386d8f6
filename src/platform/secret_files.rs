//! Guarding what a platform bundle carries (issue #19): a warning for files in the archive that
//! are likely secrets (`.env`, `*.pem`, `ec2_<build>.pem` left by `-debug`) — leave them out with
//! `.ebignore` — and the rule that `provisioner.template` names a file inside the platform
//! folder.

use std::path::{Component, Path};

/// Archive entries that look like secrets, by file name.
pub(crate) fn likely_secrets(names: &[String]) -> Vec<&str> {
    names
        .iter()
        .map(String::as_str)
        .filter(|n| {
            let base = n.rsplit('/').next().unwrap_or(n);
            base == ".env"
                || base.starts_with(".env.")
                || base.to_ascii_lowercase().ends_with(".pem")
        })
        .collect()
}

/// The warning for `likely_secrets` (None when there are none).
pub(crate) fn warning(names: &[String]) -> Option<String> {
    let found = likely_secrets(names);
    (!found.is_empty()).then(|| {
        format!(
            "WARNING: the platform archive contains files that are likely secrets: {}. \
             They are uploaded to S3 with the platform; leave them out with .ebignore.",
            found.join(", ")
        )
    })
}

/// Why `template` (platform.yaml's `provisioner.template`) is not a path inside the folder.
pub(crate) fn template_outside(template: &str) -> Option<String> {
    let p = Path::new(template);
    if p.is_absolute() {
        return Some(format!(
            "{template:?} is an absolute path; it must name a file inside the platform definition folder"
        ));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Some(format!(
            "{template:?} leaves the platform definition folder ('..'); it must name a file inside it"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names_are_found() {
        let names: Vec<String> = [
            "platform.yaml",
            ".env",
            "conf/.env.production",
            "ec2_amazon-ebs.pem",
            "certs/server.PEM",
            "builder/env.sh",
            "environment.txt",
        ]
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
        assert_eq!(
            likely_secrets(&names),
            [
                ".env",
                "conf/.env.production",
                "ec2_amazon-ebs.pem",
                "certs/server.PEM"
            ]
        );
        let w = warning(&names).unwrap();
        assert!(
            w.contains(".ebignore") && w.contains("ec2_amazon-ebs.pem"),
            "{w}"
        );
        assert_eq!(warning(&["platform.yaml".to_string()]), None);
    }

    #[test]
    fn the_template_stays_inside_the_folder() {
        assert_eq!(template_outside("custom_platform.json"), None);
        assert_eq!(template_outside("builder/t.json"), None);
        assert_eq!(template_outside("./t.json"), None);
        assert!(template_outside("../../../../etc/passwd")
            .unwrap()
            .contains("leaves"));
        assert!(template_outside("a/../../t.json").is_some());
        assert!(template_outside("/etc/passwd")
            .unwrap()
            .contains("absolute"));
    }
}

#[cfg(test)]
mod yaml_tests {
    #[test]
    fn platform_yaml_refuses_a_template_outside_the_folder() {
        let text =
            "version: \"1.0\"\nprovisioner:\n  type: packer\n  template: ../../../../etc/passwd\n";
        let e = crate::platform::yaml::parse_definition(text).unwrap_err();
        let msg =
            e.0.iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n");
        assert!(
            msg.contains("provisioner.template")
                && msg.contains("leaves the platform definition folder"),
            "{msg}"
        );
        let ok = "version: \"1.0\"\nprovisioner:\n  type: packer\n  template: builder/t.json\n";
        assert!(crate::platform::yaml::parse_definition(ok).is_ok());
    }
}
