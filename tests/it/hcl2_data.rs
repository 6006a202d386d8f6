//! HCL2 data sources through the real binary: moto holds the images, SSM parameters and Secrets
//! Manager secrets the amazon data sources read; a loopback HTTP server started here answers the
//! `http` data source. Failures: no AMI, more than one AMI, an HTTP answer outside 2xx, and
//! `validate` that must not call AWS unless `-evaluate-datasources` is given.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::paths::fresh_dir;
use crate::support::{client, Moto};

const REGION: &str = "us-east-1";
const AMI: &str = "ami-12c6146b";
const SECRET: &str = "ds-CANARY-pass word";

/// A loopback HTTP server: `/ok` answers 200 with a body and a header, anything else 404. It
/// records each request's head and serves at most `max` connections, then stops.
struct HttpServer {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    fn start(max: usize) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(max) {
                let Ok(mut s) = conn else { continue };
                s.set_read_timeout(Some(Duration::from_secs(10))).ok();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut head = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).ok();
                head.push_str(&String::from_utf8_lossy(&body));
                let ok = head.starts_with("GET /ok ") || head.starts_with("POST /ok ");
                seen.lock().unwrap().push(head);
                let resp = if ok {
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Test: yes\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello-http"
                } else {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                };
                s.write_all(resp.as_bytes()).ok();
            }
        });
        HttpServer { port, requests }
    }
}

fn rpack(dir: &Path, endpoint: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rpack"))
        .args(args)
        .current_dir(dir)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_MAX_ATTEMPTS", "2")
        .env_remove("AWS_PROFILE")
        .env_remove("PACKER_LOG")
        .output()
        .expect("running rpack");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Creates two images named `<prefix>-one` and `<prefix>-two` (tagged), a parameter and a
/// secret in moto; returns the first image's id.
async fn seed(moto: &Moto, prefix: &str) -> String {
    let ec2 = client(moto.endpoint(), REGION);
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let run = ec2
        .run_instances()
        .image_id(AMI)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .expect("RunInstances");
    let instance = run.instances()[0].instance_id().unwrap().to_string();
    let mut first = String::new();
    for n in ["one", "two"] {
        let img = ec2
            .create_image()
            .instance_id(&instance)
            .name(format!("{prefix}-{n}"))
            .send()
            .await
            .expect("CreateImage");
        let id = img.image_id().unwrap().to_string();
        ec2.create_tags()
            .resources(&id)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("team")
                    .value(format!("team-{n}"))
                    .build(),
            )
            .send()
            .await
            .expect("CreateTags");
        if first.is_empty() {
            first = id;
        }
    }
    aws_sdk_ssm::Client::new(&conf)
        .put_parameter()
        .name(format!("/{prefix}/param"))
        .value("param-value")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .expect("PutParameter");
    aws_sdk_secretsmanager::Client::new(&conf)
        .create_secret()
        .name(format!("{prefix}/secret"))
        .secret_string(format!(r#"{{"user":"bot","password":"{SECRET}"}}"#))
        .send()
        .await
        .expect("CreateSecret");
    first
}

fn template(prefix: &str, port: u16, ami_filter: &str, most_recent: bool, path: &str) -> String {
    format!(
        r#"
locals {{
  prefix = "{prefix}"
}}
data "amazon-ami" "base" {{
  owners      = ["self"]
  filters     = {{ name = "{ami_filter}" }}
  most_recent = {most_recent}
  max_retries = 1
}}
data "amazon-parameterstore" "p" {{
  name        = "/${{local.prefix}}/param"
  max_retries = 1
}}
data "amazon-secretsmanager" "s" {{
  name = "${{local.prefix}}/secret"
  key         = "password"
  max_retries = 1
}}
data "http" "h" {{
  url             = "http://127.0.0.1:{port}{path}"
  method          = "POST"
  request_body    = "ping"
  request_headers = {{ Accept = "text/plain" }}
}}
data "null" "n" {{
  input = "${{data.http.h.body}}/${{data.http.h.response_headers["X-Test"]}}"
}}
source "null" "s" {{
  communicator = "none"
}}
build {{
  sources = ["source.null.s"]
  provisioner "shell-local" {{
    inline = [
      "echo ami=${{data.amazon-ami.base.id}} name=${{data.amazon-ami.base.name}} team=${{data.amazon-ami.base.tags.team}} owner=${{data.amazon-ami.base.owner}}",
      "echo param=${{data.amazon-parameterstore.p.value}} v=${{data.amazon-parameterstore.p.version}} arn=${{data.amazon-parameterstore.p.arn}}",
      "echo null=${{data.null.n.output}}",
      "echo secret=${{data.amazon-secretsmanager.s.value}} version=${{data.amazon-secretsmanager.s.version_id}}",
    ]
  }}
}}
"#
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn data_sources_feed_the_build_and_secrets_stay_masked() {
    let moto = Moto::start();
    let prefix = format!("rpack-ds-{}", std::process::id());
    let first = rt().block_on(seed(&moto, &prefix));
    let http = HttpServer::start(4);
    let dir = fresh_dir("hcl2-data");
    let t = template(&prefix, http.port, &format!("{prefix}-one"), false, "/ok");
    std::fs::write(dir.join("t.pkr.hcl"), t).unwrap();
    let (code, out) = rpack(
        &dir,
        moto.endpoint(),
        &["build", "-color=false", "t.pkr.hcl"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "ami={first} name={prefix}-one team=team-one owner=123456789012"
        )),
        "{out}"
    );
    assert!(
        out.contains("param=param-value v=1 arn=arn:aws:ssm:"),
        "{out}"
    );
    assert!(out.contains("null=hello-http/yes"), "{out}");
    assert!(out.contains("secret=<sensitive> version="), "{out}");
    assert!(!out.contains("CANARY"), "the secret leaked:\n{out}");
    let reqs = http.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert!(reqs[0].starts_with("POST /ok HTTP/1.1"), "{reqs:?}");
    assert!(
        reqs[0].to_ascii_lowercase().contains("accept: text/plain"),
        "{reqs:?}"
    );
    assert!(reqs[0].ends_with("ping"), "{reqs:?}");

    // most_recent picks one of several; without it several are an error in the plugin's words.
    let t = template(&prefix, http.port, &format!("{prefix}-*"), true, "/ok");
    std::fs::write(dir.join("t.pkr.hcl"), t).unwrap();
    let (code, out) = rpack(
        &dir,
        moto.endpoint(),
        &["build", "-color=false", "t.pkr.hcl"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("team=team-"), "{out}");
}

#[test]
fn failures_are_the_plugins_errors_with_positions() {
    let moto = Moto::start();
    let prefix = format!("rpack-dsf-{}", std::process::id());
    rt().block_on(seed(&moto, &prefix));
    let http = HttpServer::start(8);
    let dir = fresh_dir("hcl2-data-fail");
    let cases = [
        (
            format!("{prefix}-*"),
            "/ok",
            "Error: Your query returned more than one result. Please try a more specific search, or set most_recent to true.\n\n  on t.pkr.hcl:5:1:",
        ),
        (
            format!("{prefix}-nothing"),
            "/ok",
            "Error: No AMI was found matching filters: {name: ",
        ),
        (
            format!("{prefix}-one"),
            "/missing",
            "Error: HTTP request error. Response code: 404\n\n  on t.pkr.hcl:20:1:",
        ),
    ];
    for (filter, path, want) in cases {
        let t = template(&prefix, http.port, &filter, false, path);
        std::fs::write(dir.join("t.pkr.hcl"), t).unwrap();
        let (code, out) = rpack(&dir, moto.endpoint(), &["inspect", "t.pkr.hcl"]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(want), "want {want:?} in:\n{out}");
        assert!(!out.contains("CANARY"), "{out}");
    }
    // A missing parameter and secret, in the plugin's words.
    let t = template(
        &format!("{prefix}-gone"),
        http.port,
        &format!("{prefix}-one"),
        false,
        "/ok",
    );
    std::fs::write(dir.join("t.pkr.hcl"), t).unwrap();
    let (code, out) = rpack(&dir, moto.endpoint(), &["inspect", "t.pkr.hcl"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "Error: The parameter name \"/{prefix}-gone/param\" not found"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Error: Secrets Manager Secret \"{prefix}-gone/secret\" Version \"AWSCURRENT\" not found"
        )),
        "{out}"
    );
}

#[test]
fn validate_calls_aws_only_when_asked() {
    let http = HttpServer::start(2);
    let dir = fresh_dir("hcl2-data-validate");
    std::fs::write(
        dir.join("t.pkr.hcl"),
        template("rpack-v", http.port, "x", false, "/ok"),
    )
    .unwrap();
    // Nothing listens on port 9: any AWS call would fail.
    let closed = "http://127.0.0.1:9";
    let (code, out) = rpack(&dir, closed, &["validate", "t.pkr.hcl"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        http.requests.lock().unwrap().is_empty(),
        "no HTTP call either"
    );
    let (code, out) = rpack(
        &dir,
        closed,
        &["validate", "-evaluate-datasources", "t.pkr.hcl"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("127.0.0.1:9"),
        "the error names the endpoint:\n{out}"
    );
    // Configuration errors are reported by validate without any call.
    std::fs::write(
        dir.join("t.pkr.hcl"),
        "data \"amazon-ami\" \"a\" {\n  filters = { name = \"x\" }\n}\nsource \"null\" \"s\" {\n  communicator = \"none\"\n}\nbuild { sources = [\"source.null.s\"] }\n",
    )
    .unwrap();
    let (code, out) = rpack(&dir, closed, &["validate", "t.pkr.hcl"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "Error: For security reasons, you must declare an owner.\n\n  on t.pkr.hcl:1:1:"
        ),
        "{out}"
    );
}

#[test]
fn amazon_ami_retries_throttling_and_reports_access_denied() {
    use crate::support::{FaultKind, Proxy};
    let moto = Moto::start();
    let prefix = format!("rpack-dsp-{}", std::process::id());
    let first = rt().block_on(seed(&moto, &prefix));
    let proxy = Proxy::start(moto.endpoint());
    let dir = fresh_dir("hcl2-data-proxy");
    let t = format!(
        r#"
data "amazon-ami" "a" {{
  owners              = ["self"]
  filters             = {{ name = "{prefix}-one" }}
  custom_endpoint_ec2 = "{}"
}}
source "null" "s" {{
  communicator = "none"
}}
build {{
  sources = ["source.null.s"]
  provisioner "shell-local" {{
    inline = ["echo ami=${{data.amazon-ami.a.id}}"]
  }}
}}
"#,
        proxy.endpoint()
    );
    std::fs::write(dir.join("t.pkr.hcl"), t).unwrap();
    proxy.inject_fault_limited(FaultKind::Throttle, 1.0, &["DescribeImages"], Some(2));
    let (code, out) = rpack(
        &dir,
        moto.endpoint(),
        &["build", "-color=false", "t.pkr.hcl"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("ami={first}")), "{out}");
    assert_eq!(
        proxy.count("DescribeImages"),
        3,
        "two throttled, then answered"
    );
    proxy.inject_fault(FaultKind::AccessDenied, 1.0, &["DescribeImages"]);
    let (code, out) = rpack(&dir, moto.endpoint(), &["inspect", "t.pkr.hcl"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "Error: Error querying AMI: describing images in us-east-1: UnauthorizedOperation"
        ),
        "{out}"
    );
    assert!(out.contains("on t.pkr.hcl:2:1:"), "{out}");
}
