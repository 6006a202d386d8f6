//! Post-processor chains at run time: each chain gets the builder's artifact, each element the
//! previous one's; `keep_input_artifact` and the post-processors' forced keeps decide whether the
//! builder artifact survives (an AMI no post-processor keeps is deregistered, as Packer does).

use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::post_processors::{checksum, manifest, PlannedPostProcessor, PostProcessor};
use crate::shell_local::RunData;
use crate::ui::build::BuildUi;
use crate::ui::Ui;

/// What the chains left: artifacts to report and errors (`Post-processor failed: …`).
pub(crate) struct ChainsOutcome {
    pub artifacts: Vec<Artifact>,
    pub errors: Vec<String>,
}

pub(crate) struct PostEnv<'a> {
    pub ui: &'a BuildUi,
    pub data: &'a RunData,
    pub run_uuid: &'a str,
    pub force: bool,
    pub build_time: i64,
    pub cancel: &'a CancellationToken,
}

/// Runs every chain over `builder_artifact`, then keeps or destroys the builder's artifact.
pub(crate) async fn run_chains(
    chains: &[Vec<PlannedPostProcessor>],
    builder_artifact: Artifact,
    env: &PostEnv<'_>,
) -> ChainsOutcome {
    let mut artifacts = Vec::new();
    let mut errors = Vec::new();
    let mut keep_original = chains.is_empty();
    for chain in chains {
        let mut prior = builder_artifact.clone();
        let mut failed = false;
        for (i, pp) in chain.iter().enumerate() {
            if pp.name == pp.kind {
                env.ui.say(&format!("Running post-processor: {}", pp.name));
            } else {
                env.ui.say(&format!(
                    "Running post-processor: {} (type {})",
                    pp.name, pp.kind
                ));
            }
            let pui = env.ui.for_post_processor(&pp.kind);
            match run_one(pp, &prior, &pui, env).await {
                Ok((artifact, default_keep, forced)) => {
                    let keep = forced || pp.keep_input_artifact.unwrap_or(default_keep);
                    if i == 0 {
                        keep_original |= keep;
                    } else if !keep {
                        env.ui.say(&format!(
                            "Deleting prior artifact from post-processor '{}'",
                            pp.name
                        ));
                        if let Err(e) = prior.destroy().await {
                            errors.push(format!("Error destroying prior artifact: {e:#}"));
                        }
                    }
                    prior = artifact;
                }
                Err(e) => {
                    errors.push(format!("Post-processor failed: {e:#}"));
                    // Packer keeps the original when the chain could not run.
                    keep_original = true;
                    failed = true;
                    break;
                }
            }
        }
        if !failed && !chain.is_empty() {
            artifacts.push(prior);
        }
    }
    if keep_original {
        artifacts.insert(0, builder_artifact);
    } else {
        env.ui.say(&format!(
            "Deleting original artifact for build '{}'",
            env.ui.name
        ));
        if let Err(e) = builder_artifact.destroy().await {
            errors.push(format!("Error destroying original artifact: {e:#}"));
        }
    }
    ChainsOutcome { artifacts, errors }
}

/// Returns (artifact, default keep_input_artifact, keep forced).
async fn run_one(
    pp: &PlannedPostProcessor,
    input: &Artifact,
    ui: &BuildUi,
    env: &PostEnv<'_>,
) -> anyhow::Result<(Artifact, bool, bool)> {
    match &pp.config {
        PostProcessor::Manifest(c) => {
            manifest::write(c, input, env)?;
            Ok((input.clone(), true, true))
        }
        PostProcessor::Checksum(c) => Ok((checksum::run(c, input, env)?, true, true)),
        PostProcessor::ShellLocal(c) => {
            crate::shell_local::run(c, ui, env.data, env.cancel).await?;
            Ok((input.clone(), true, true))
        }
    }
}
