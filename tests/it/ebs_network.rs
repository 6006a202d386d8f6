//! amazon-ebs's network selection on the test stack: `vpc_filter`, `subnet_filter` and
//! `security_group_filter` in map and list form reach DescribeVpcs/DescribeSubnets/
//! DescribeSecurityGroups and pick the instance's subnet and group; IMDSv2 is required on the
//! build instance unless the template says otherwise.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::HttpTokensState;
use serde_json::json;

use crate::ebs::{assert_clean, build, build_with, config, err_text, stack, REGION};
use crate::ebs_more::{destroy, Inspect};
use crate::support::Ec2State;

/// `vpc_filter`, `subnet_filter` (most_free) and `security_group_filter` pick the tagged VPC,
/// its larger subnet and its group; the instance runs there with IMDSv2 required by default, or
/// optional when the template says so. An ambiguous subnet filter fails with Packer's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_filters_resolve_and_imdsv2_is_required_by_default() {
    let st = stack();
    let c = Ec2State::new(st.moto.endpoint(), REGION).client().clone();
    let name = format!("rpack-net-{}", uuid::Uuid::new_v4());
    let tag = |k: &str, v: &str| {
        aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(k.into())
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("Name")
                    .value(v)
                    .build(),
            )
            .build()
    };
    let vpc = c
        .create_vpc()
        .cidr_block("10.77.0.0/16")
        .tag_specifications(tag("vpc", &name))
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut subnets = Vec::new();
    for cidr in ["10.77.2.0/28", "10.77.1.0/24"] {
        let s = c
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .tag_specifications(tag("subnet", &name))
            .send()
            .await
            .unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let sg = c
        .create_security_group()
        .group_name(&name)
        .description("rpack test")
        .vpc_id(&vpc)
        .tag_specifications(tag("security-group", &name))
        .send()
        .await
        .unwrap();
    let sg = sg.group_id().unwrap().to_string();
    let filters = |most_free: bool| {
        json!({
            "vpc_filter": {"filters": {"tag:Name": name}},
            "subnet_filter": {"filters": {"tag:Name": name}, "most_free": most_free},
            "security_group_filter": {"filters": {"tag:Name": name}},
            "skip_create_ami": true,
        })
    };

    st.proxy.reset_counts();
    let hook = Inspect::new(&st);
    let o = build_with(&st, config(st.base(), filters(true)), hook.clone(), None).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    for line in [
        format!("Found VPC ID: {vpc}"),
        format!("Found Subnet ID: {}", subnets[1]),
        format!("Found Security Group(s): {sg}"),
    ] {
        assert!(
            o.lines.iter().any(|l| l.contains(&line)),
            "no {line:?} in\n{}",
            o.lines.join("\n")
        );
    }
    let inst = hook.instance();
    assert_eq!(inst.vpc_id(), Some(vpc.as_str()));
    assert_eq!(
        inst.subnet_id(),
        Some(subnets[1].as_str()),
        "not the subnet with the most free addresses"
    );
    let groups: Vec<_> = inst
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id())
        .collect();
    assert_eq!(groups, [sg.as_str()]);
    assert_eq!(
        st.proxy.count("CreateSecurityGroup"),
        0,
        "a temporary group was made despite the filter"
    );
    let tokens = inst.metadata_options().and_then(|m| m.http_tokens());
    assert_eq!(
        tokens,
        Some(&HttpTokensState::Required),
        "IMDSv2 is not required on the build instance"
    );
    destroy(&o).await;
    assert_clean(&st, &o, &[REGION]).await;

    let hook = Inspect::new(&st);
    let mut extra = filters(true);
    extra["metadata_options"] = json!({"http_tokens": "optional"});
    let o = build_with(&st, config(st.base(), extra), hook.clone(), None).await;
    assert!(o.result.is_ok(), "{}", err_text(&o));
    assert_eq!(
        hook.instance()
            .metadata_options()
            .and_then(|m| m.http_tokens()),
        Some(&HttpTokensState::Optional)
    );
    destroy(&o).await;
    assert_clean(&st, &o, &[REGION]).await;

    let o = build(&st, config(st.base(), filters(false))).await;
    let e = err_text(&o);
    assert!(e.contains("Your filter matched 2 Subnets. Please try a more specific search, or set random or most_free to true."), "{e}");
    assert_clean(&st, &o, &[REGION]).await;
}

/// The filters of a recorded EC2 query (`Filter.N.Name`, `Filter.N.Value.M`) as (name, value)
/// pairs.
fn query_filters(form: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, name) in form {
        let Some(n) = k
            .strip_prefix("Filter.")
            .and_then(|r| r.strip_suffix(".Name"))
        else {
            continue;
        };
        for (vk, value) in form {
            if vk.starts_with(&format!("Filter.{n}.Value.")) {
                out.push((name.clone(), value.clone()));
            }
        }
    }
    out.sort();
    out
}

/// The list form `"filter": [{"name", "value"}]` (and a lone object) of `vpc_filter`,
/// `subnet_filter` and `security_group_filter`, through the real binary: each entry reaches
/// DescribeVpcs/DescribeSubnets/DescribeSecurityGroups, and the instance is launched in the one
/// subnet the list selects (not the larger one `most_free` alone would pick) with the group.
#[test]
fn network_filters_in_list_form_reach_ec2_and_select_the_subnet() {
    let st = crate::build::stack();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = Ec2State::new(st.moto.endpoint(), REGION).client().clone();
    let name = format!("rpack-netlist-{}", uuid::Uuid::new_v4());
    let tag = |k: &str, key: &str, v: &str| {
        aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(k.into())
            .tags(aws_sdk_ec2::types::Tag::builder().key(key).value(v).build())
            .build()
    };
    let (vpc, wanted, larger, sg) = rt.block_on(async {
        let vpc = c
            .create_vpc()
            .cidr_block("10.78.0.0/16")
            .tag_specifications(tag("vpc", "Name", &name))
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let mut subnets = Vec::new();
        for (cidr, role) in [("10.78.2.0/28", "build"), ("10.78.1.0/24", "other")] {
            let s = c
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .tag_specifications(tag("subnet", "Role", role))
                .send()
                .await
                .unwrap();
            subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        let sg = c
            .create_security_group()
            .group_name(&name)
            .description("rpack test")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let sg = sg.group_id().unwrap().to_string();
        (vpc, subnets[0].clone(), subnets[1].clone(), sg)
    });
    let tpl = st.template(
        "netlist",
        json!({
            "vpc_filter": {"filter": {"name": "tag:Name", "value": name}},
            "subnet_filter": {
                "filters": {"vpc-id": vpc},
                "filter": [{"name": "tag:Role", "value": "build"}],
                "most_free": true
            },
            "security_group_filter": {
                "filter": [{"name": "group-name", "value": name}, {"name": "vpc-id", "value": vpc}]
            },
            "skip_create_ami": true
        }),
        json!([]),
    );
    let (code, out) = crate::build::run_to_end(st.rpack(&["build", tpl.to_str().unwrap()]));
    assert_eq!(code, Some(0), "{out}");
    for line in [
        format!("Found VPC ID: {vpc}"),
        format!("Found Subnet ID: {wanted}"),
        format!("Found Security Group(s): {sg}"),
    ] {
        assert!(out.contains(&line), "no {line:?} in\n{out}");
    }
    let asked = |action: &str, want: &[(&str, &str)]| {
        let reqs = st.proxy.requests_of(action);
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert!(
            reqs.iter().any(|r| {
                let got = query_filters(r);
                want.iter().all(|w| got.contains(w))
            }),
            "{action} never asked for {want:?}: {reqs:?}"
        );
    };
    asked("DescribeVpcs", &[("tag:Name", &name)]);
    asked(
        "DescribeSubnets",
        &[("vpc-id", &vpc), ("tag:Role", "build")],
    );
    asked(
        "DescribeSecurityGroups",
        &[("group-name", &name), ("vpc-id", &vpc)],
    );
    let run = st.proxy.requests_of("RunInstances");
    assert_eq!(run.len(), 1, "{run:?}");
    assert_eq!(
        run[0].get("SubnetId").map(String::as_str),
        Some(wanted.as_str()),
        "not launched in the subnet the list selects (the larger is {larger})"
    );
    assert_eq!(
        run[0].get("SecurityGroupId.1").map(String::as_str),
        Some(sg.as_str()),
        "{run:?}"
    );
    assert_eq!(st.proxy.count("CreateSecurityGroup"), 0);
    // Nothing of the build is left: only the test's own group.
    assert_eq!(
        st.leftovers(&[REGION]),
        [format!("security group {sg} in {REGION}")]
    );
}
