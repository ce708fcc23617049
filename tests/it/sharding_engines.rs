//! The engines that run a sharded render: the GitHub Actions workflows under
//! `ci/github/` pass the workflow schema (PyPI `check-jsonschema
//! --builtin-schema vendor.github-workflows`, offline) and the Kubernetes
//! Indexed Job under `ci/kubernetes/` passes `kubernetes-validate --strict`
//! (PyPI, its bundled schemas, offline); both are installed by
//! `ci/setup.sh`. Each check is also shown to reject a broken copy, and
//! the files' shard wiring (N in one place) is checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A console script pip installed, found on PATH.
fn pip_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed; run `bash ci/setup.sh` (pip install {name})")
        })
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn check_workflow(file: &Path) -> Output {
    Command::new(pip_tool("check-jsonschema"))
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(file)
        .output()
        .expect("run check-jsonschema")
}

fn check_manifest(file: &Path) -> Output {
    Command::new(pip_tool("kubernetes-validate"))
        .arg("--strict")
        .arg(file)
        .output()
        .expect("run kubernetes-validate")
}

fn say(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_github_workflows_pass_the_workflow_schema() {
    for name in ["ci/github/sharded.yml", "ci/github/nightly.yml"] {
        let o = check_workflow(&repo(name));
        assert!(o.status.success(), "{name}: {}", say(&o));
    }
    // The check can fail: a misspelt `needs:`.
    let text = std::fs::read_to_string(repo("ci/github/sharded.yml")).expect("read");
    assert!(
        text.contains("    needs: plan\n"),
        "the shards wait for the plan"
    );
    assert!(
        text.contains("    needs: [plan, shard]\n"),
        "finish waits for every shard"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        text.replace("    needs: plan\n", "    need: plan\n"),
    )
    .expect("write");
    let o = check_workflow(&broken);
    assert!(!o.status.success(), "a broken workflow passed: {}", say(&o));
    // N is the matrix alone: each shard is I/N with N = the matrix's size.
    assert!(
        text.contains("--shard ${{ matrix.shard }}/${{ strategy.job-total }}"),
        "{text}"
    );
    assert_eq!(text.matches("# N:").count(), 1, "N is set in one place");
}

#[test]
fn the_kubernetes_indexed_job_passes_kubernetes_validate() {
    let file = repo("ci/kubernetes/render-shards.yaml");
    let o = check_manifest(&file);
    assert!(o.status.success(), "{}", say(&o));
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains("completionMode: Indexed"), "{text}");
    assert!(
        text.contains(r#"--shard "$((JOB_COMPLETION_INDEX + 1))/$LOFIEVER_SHARDS""#),
        "completionIndex 0..N-1 is shard 1..N"
    );
    // N (completions) and LOFIEVER_SHARDS agree.
    let completions = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("completions:"))
        .and_then(|v| v.split('#').next())
        .map(|v| v.trim().to_string())
        .expect("completions");
    let shards_env = text
        .split("name: LOFIEVER_SHARDS")
        .nth(1)
        .and_then(|rest| rest.lines().find_map(|l| l.trim().strip_prefix("value:")))
        .map(|v| v.trim().trim_matches('"').to_string())
        .expect("LOFIEVER_SHARDS");
    assert_eq!(completions, shards_env, "completions and LOFIEVER_SHARDS");
    // The check can fail: an unknown field.
    let dir = tempfile::tempdir().expect("tmp");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, text.replace("  parallelism:", "  paralelism:")).expect("write");
    let o = check_manifest(&broken);
    assert!(!o.status.success(), "a broken manifest passed: {}", say(&o));
}
