//! Everything checked about a platform definition folder before anything is uploaded:
//! platform.yaml ([`super::yaml`]), the Packer template it names (exists, passes `validate`,
//! only amazon-ebs builders, region equal to the EB region), CRLF line ends in scripts, and
//! (the one check that asks AWS, [`source_ami_problems`]) that each builder's source AMI exists
//! in that region.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::plan::{self, BuilderConfig};
use crate::template::{parse, variables};

use super::api::{Api, SourceLookup};
use super::yaml::{self, Definition};

/// The EB builder's environment for the template, as it sets it (DG custom-platforms).
pub(crate) fn platform_env(name: &str, version: &str, arn: &str) -> [(&'static str, String); 3] {
    [
        ("AWS_EB_PLATFORM_ARN", arn.to_string()),
        ("AWS_EB_PLATFORM_NAME", name.to_string()),
        ("AWS_EB_PLATFORM_VERSION", version.to_string()),
    ]
}

/// `-var-file`s and `-var`s for the template (as `rpack build` takes them), and the
/// environment EB's builder gives it ([`platform_env`]), which `{{env}}` sees before the
/// process environment.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateVars {
    pub files: Vec<String>,
    pub vars: Vec<(String, String)>,
    pub env: BTreeMap<String, String>,
}

impl TemplateVars {
    /// The context templates are checked and built in: [`plan::base_context`] with the
    /// environment overlay.
    pub(crate) fn base_context(&self, tpl: &parse::Template) -> crate::template::interp::Context {
        let mut base = plan::base_context(tpl);
        if !self.env.is_empty() {
            base.env = Some(Arc::new(self.env.clone()));
        }
        base
    }
}

/// A checked definition folder.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub definition: Definition,
    pub yaml_text: String,
    pub template_path: PathBuf,
    /// What each builder starts from, for [`source_ami_problems`].
    pub sources: Vec<SourceRef>,
}

/// A builder's source AMI (or filter) and where the template sets it.
#[derive(Debug, Clone)]
pub(crate) struct SourceRef {
    /// `custom_platform.json:12: builders[0].source_ami`
    pub place: String,
    pub lookup: SourceLookup,
}

/// Checks `root` (the folder holding platform.yaml); `region` is the EB region. Returns every
/// problem as one message per line. The template is rendered with `vars.env` (the
/// AWS_EB_PLATFORM_* values) over the process environment.
pub(crate) fn definition(
    root: &Path,
    region: &str,
    vars: &TemplateVars,
) -> Result<Checked, Vec<String>> {
    let yaml_path = root.join("platform.yaml");
    let yaml_text = match crate::limits::read_text(&yaml_path, "platform definition") {
        Ok(t) => t,
        Err(e) => return Err(vec![format!("Your workspace does not have a Platform Definition File, 'platform.yaml', in the root directory ({}: {e}).", yaml_path.display())]),
    };
    let def = yaml::parse_definition(&yaml_text).map_err(|p| {
        p.0.iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>()
    })?;
    let mut problems = crlf_problems(root);
    let template_path = root.join(&def.template);
    let mut sources = Vec::new();
    if template_path.is_file() {
        match template_problems(&template_path, region, vars) {
            Ok(s) => sources = s,
            Err(p) => problems.extend(p),
        }
    } else {
        problems.push(format!("platform.yaml: provisioner.template: {} does not exist in the platform definition folder", def.template));
    }
    if problems.is_empty() {
        Ok(Checked {
            definition: def,
            yaml_text,
            template_path,
            sources,
        })
    } else {
        Err(problems)
    }
}

/// Every source AMI (or source_ami_filter) that DescribeImages does not find in the builder's
/// region, one message each, naming the template file, the key and its line. EB's builder
/// starts from that AMI in the EB region, and fails there (after the upload and a builder
/// environment) when it is missing.
pub(crate) async fn source_ami_problems(
    checked: &Checked,
    api: &Api,
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for s in &checked.sources {
        if !api.source_images(&s.lookup).await?.is_empty() {
            continue;
        }
        let l = &s.lookup;
        let what = match &l.ami {
            Some(ami) if l.filters.is_empty() => format!("{ami} does not exist in {}", l.region),
            _ => {
                let filters: Vec<String> = l
                    .filters
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .chain(l.ami.iter().map(|a| format!("image-id: {a}")))
                    .collect();
                format!(
                    "no image in {} matches {{{}}} (owners: {})",
                    l.region,
                    filters.join(", "),
                    l.owners.join(", ")
                )
            }
        };
        problems.push(format!(
            "{}: {what}; the builder needs its source AMI in the region the platform is created in",
            s.place
        ));
    }
    Ok(problems)
}

fn template_problems(
    path: &Path,
    eb_region: &str,
    vars: &TemplateVars,
) -> Result<Vec<SourceRef>, Vec<String>> {
    let shown = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tpl = parse::parse_file(&path.to_string_lossy())
        .map_err(|e| vec![format!("{shown}: Failed to parse template: {e}")])?;
    let mut files = Vec::new();
    for f in &vars.files {
        files.push(variables::read_var_file(f).map_err(|e| vec![e])?);
    }
    let values = variables::merge(&tpl, &files, &vars.vars);
    let base = vars.base_context(&tpl);
    let checked = plan::check(&tpl, &values, &base, &plan::Options::default());
    if checked.has_errors() {
        return Err(checked
            .diags
            .iter()
            .filter(|d| d.severity == plan::Severity::Error)
            .map(|d| format!("{shown}: {}: {}", d.summary, d.detail.trim()))
            .collect());
    }
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    for b in &checked.builds {
        match &b.builder {
            BuilderConfig::AmazonEbs(c) => {
                let r = c.access.region.clone().unwrap_or_default();
                let index = tpl.builders.iter().position(|d| d.name == b.raw_name).unwrap_or(0);
                let key = if c.run.source_ami.is_some() { "source_ami" } else { "source_ami_filter" };
                let line = tpl.builders.get(index).and_then(|d| d.config.key_pos(key)).map(|p| format!(":{}", p.line)).unwrap_or_default();
                let filter = c.run.source_ami_filter.clone().unwrap_or_default();
                sources.push(SourceRef {
                    place: format!("{shown}{line}: builders[{index}].{key}"),
                    lookup: SourceLookup { region: r.clone(), endpoint: c.access.custom_endpoint_ec2.clone(), ami: c.run.source_ami.clone(), filters: filter.filters, owners: filter.owners },
                });
                if r != eb_region {
                    problems.push(format!(
                        "{shown}: builder {:?} builds in region {:?}, but the platform is created in {eb_region}: EB rejects an AMI from another region (\"Unmatched region for created AMI\"); set the template's region to {eb_region}",
                        b.name, r
                    ));
                }
            }
            _ => problems.push(format!("{shown}: builder {:?} is of type {}; Elastic Beanstalk custom platforms need amazon-ebs builders", b.name, b.builder_kind)),
        }
    }
    if checked.builds.is_empty() {
        problems.push(format!("{shown}: the template has no builders"));
    }
    if problems.is_empty() {
        Ok(sources)
    } else {
        Err(problems)
    }
}

/// Scripts (`*.sh` or starting with `#!`) with CRLF line ends: `$'\r': command not found` on the
/// builder instance. Only files that go into the bundle are read, as streams (see `super::crlf`).
pub(crate) fn crlf_problems(root: &Path) -> Vec<String> {
    super::crlf::problems(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(template: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("platform.yaml"),
            "version: \"1.0\"\nprovisioner:\n  type: packer\n  template: t.json\n",
        )
        .unwrap();
        std::fs::write(d.path().join("t.json"), template).unwrap();
        d
    }

    const EBS: &str = r#"{"builders":[{"type":"amazon-ebs","region":"eu-west-1","source_ami":"ami-1","instance_type":"t3.micro","ssh_username":"ec2-user","ami_name":"x-{{timestamp}}"}]}"#;

    #[test]
    fn a_good_folder_passes() {
        let d = folder(EBS);
        let c = definition(d.path(), "eu-west-1", &TemplateVars::default()).unwrap();
        assert_eq!(c.sources.len(), 1);
        assert_eq!(c.sources[0].lookup.region, "eu-west-1");
        assert_eq!(c.sources[0].place, "t.json:1: builders[0].source_ami");
        assert_eq!(c.sources[0].lookup.ami.as_deref(), Some("ami-1"));
    }

    #[test]
    fn the_env_overlay_reaches_the_template() {
        let d = folder(
            r#"{"variables":{"r":"{{env `RPACK_CHECK_TEST_EB_REGION`}}"},"builders":[{"type":"amazon-ebs","region":"{{user `r`}}","source_ami":"ami-1","instance_type":"t3.micro","ssh_username":"ec2-user","ami_name":"x-{{timestamp}}"}]}"#,
        );
        let mut vars = TemplateVars::default();
        let e = definition(d.path(), "eu-west-1", &vars).unwrap_err();
        assert!(e[0].contains("builds in region \"\""), "{e:?}");
        vars.env
            .insert("RPACK_CHECK_TEST_EB_REGION".into(), "eu-west-1".into());
        let c = definition(d.path(), "eu-west-1", &vars).unwrap();
        assert_eq!(c.sources[0].lookup.region, "eu-west-1");
    }

    #[test]
    fn region_mismatch_and_builder_type() {
        let d = folder(EBS);
        let e = definition(d.path(), "us-east-1", &TemplateVars::default()).unwrap_err();
        assert!(
            e[0].contains(
                "builds in region \"eu-west-1\", but the platform is created in us-east-1"
            ),
            "{e:?}"
        );
        let d = folder(r#"{"builders":[{"type":"null","communicator":"none"}]}"#);
        let e = definition(d.path(), "us-east-1", &TemplateVars::default()).unwrap_err();
        assert!(e[0].contains("is of type null"), "{e:?}");
    }

    #[test]
    fn missing_template_and_crlf() {
        let d = folder(EBS);
        std::fs::remove_file(d.path().join("t.json")).unwrap();
        std::fs::create_dir(d.path().join("builder")).unwrap();
        std::fs::write(
            d.path().join("builder/builder.sh"),
            "#!/bin/bash\necho hi\r\n",
        )
        .unwrap();
        let e = definition(d.path(), "eu-west-1", &TemplateVars::default()).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("builder/builder.sh:2: the script has Windows (CRLF) line ends"),
            "{e:?}"
        );
        assert!(e[1].contains("t.json does not exist"), "{e:?}");
    }

    #[test]
    fn an_invalid_template_is_reported() {
        let d = folder(r#"{"builders":[{"type":"amazon-ebs"}]}"#);
        let e = definition(d.path(), "eu-west-1", &TemplateVars::default()).unwrap_err();
        assert!(e[0].starts_with("t.json: "), "{e:?}");
    }
}
