//! NetworkPolicies: every pod isolated by default, then exactly the flows sessiondb
//! needs allowed (and a set of flows it does not need denied).

use std::net::Ipv4Addr;

use sessiondb_deploy_tests::netpol::{allowed, selecting, Endpoint};
use sessiondb_deploy_tests::objects::{self, string_map, Object};
use sessiondb_deploy_tests::render::Rendered;

use crate::support;

/// A pod of the rendering, by workload name, in the rendered namespace.
fn pod(r: &Rendered, kind: &str, name: &str) -> Option<Endpoint> {
    let workload = objects::find(&r.objects, kind, name)?;
    let namespace = objects::find(&r.objects, "Namespace", workload.namespace())
        .expect("the namespace is rendered too");
    let mut ns_labels = string_map(&namespace.0, "/metadata/labels");
    ns_labels.insert(
        "kubernetes.io/metadata.name".into(),
        namespace.name().into(),
    );
    Some(Endpoint::Pod {
        namespace: workload.namespace().into(),
        namespace_labels: ns_labels,
        labels: string_map(workload.pod_template().expect("pod"), "/metadata/labels"),
    })
}

fn external_pods() -> [(&'static str, Endpoint); 5] {
    [
        (
            "kube-dns",
            Endpoint::pod("kube-system", &[], &[("k8s-app", "kube-dns")]),
        ),
        (
            "ingress controller",
            Endpoint::pod(
                "ingress-nginx",
                &[],
                &[("app.kubernetes.io/name", "ingress-nginx")],
            ),
        ),
        (
            "client",
            Endpoint::pod(
                "shop",
                &[("sessiondb.io/client", "true")],
                &[("app", "checkout")],
            ),
        ),
        ("other", Endpoint::pod("other", &[], &[("app", "intruder")])),
        (
            "cluster prometheus",
            Endpoint::pod(
                "monitoring",
                &[],
                &[("app.kubernetes.io/name", "prometheus")],
            ),
        ),
    ]
}

const INTERNET: Endpoint = Endpoint::External(Ipv4Addr::new(203, 0, 113, 10));

struct Flows<'a> {
    policies: Vec<&'a Object>,
    rendering: &'a str,
    failures: Vec<String>,
}

impl Flows<'_> {
    fn expect(
        &mut self,
        want: bool,
        from: (&str, &Endpoint),
        to: (&str, &Endpoint),
        port: u16,
        protocol: &str,
    ) {
        let got =
            allowed(&self.policies, from.1, to.1, port, protocol).expect("evaluable policies");
        if got != want {
            self.failures.push(format!(
                "{}: {} -> {} {port}/{protocol} is {} but should be {}",
                self.rendering,
                from.0,
                to.0,
                if got { "allowed" } else { "denied" },
                if want { "allowed" } else { "denied" },
            ));
        }
    }
}

#[test]
fn every_pod_is_isolated_and_has_its_own_policy() {
    for (rendering, r) in support::all_renderings() {
        let policies: Vec<&Object> = r
            .objects
            .iter()
            .filter(|o| o.kind() == "NetworkPolicy")
            .collect();
        for workload in r.objects.iter().filter(|o| o.pod_template().is_some()) {
            let endpoint = pod(r, workload.kind(), workload.name()).expect("pod");
            for ingress in [true, false] {
                let selecting = selecting(&policies, &endpoint, ingress).expect("valid selectors");
                assert!(
                    selecting.iter().any(|p| p.name() == "default-deny"),
                    "{rendering}: {} not isolated",
                    workload.id()
                );
            }
            let own = selecting(&policies, &endpoint, true)
                .expect("valid")
                .into_iter()
                .chain(selecting(&policies, &endpoint, false).expect("valid"))
                .any(|p| p.at("/spec/podSelector") != Some(&serde_json::json!({})));
            assert!(
                own,
                "{rendering}: no policy of its own selects {}",
                workload.id()
            );
        }
    }
}

#[test]
fn exactly_the_needed_flows_are_allowed() {
    let mut failures = Vec::new();
    for (rendering, r) in support::all_renderings() {
        let mut flows = Flows {
            policies: r
                .objects
                .iter()
                .filter(|o| o.kind() == "NetworkPolicy")
                .collect(),
            rendering: &rendering,
            failures: Vec::new(),
        };
        let external = external_pods();
        let ext = |name: &str| -> (&str, &Endpoint) {
            let (n, e) = external.iter().find(|(n, _)| *n == name).expect("known");
            (n, e)
        };
        let api = pod(r, "Deployment", "sessiondb").expect("API");
        let cleanup = pod(r, "CronJob", "sessiondb-cleanup").expect("cleanup");
        let backup = pod(r, "CronJob", "sessiondb-backup").expect("backup");
        let redis = pod(r, "StatefulSet", "redis").expect("redis");
        let sentinel = pod(r, "StatefulSet", "redis-sentinel");
        let prometheus = pod(r, "StatefulSet", "prometheus");
        let grafana = pod(r, "Deployment", "grafana");
        let alertmanager = pod(r, "Deployment", "alertmanager");
        let operator = rendering.ends_with("+prometheus-operator");
        let production = rendering.starts_with("production");

        let (a, c, d) = (("api", &api), ("cleanup", &cleanup), ("redis", &redis));
        let b = ("backup", &backup);
        let mut pods = vec![a, c, d, b];
        if let Some(s) = &sentinel {
            pods.push(("sentinel", s));
        }
        for p in [&prometheus, &grafana].into_iter().flatten() {
            pods.push(("monitoring pod", p));
        }
        for p in &pods {
            flows.expect(true, *p, ext("kube-dns"), 53, "UDP");
            flows.expect(true, *p, ext("kube-dns"), 53, "TCP");
            flows.expect(false, *p, ("internet", &INTERNET), 443, "TCP");
        }
        if let Some(m) = &alertmanager {
            // Alertmanager notifies receivers outside the cluster (checked below).
            flows.expect(true, ("alertmanager", m), ext("kube-dns"), 53, "UDP");
        }
        // Clients and the ingress controller reach the API port, nothing else.
        flows.expect(true, ext("client"), a, 8080, "TCP");
        flows.expect(production, ext("ingress controller"), a, 8080, "TCP");
        flows.expect(false, ext("ingress controller"), d, 6379, "TCP");
        flows.expect(false, ext("client"), d, 6379, "TCP");
        flows.expect(false, ext("client"), a, 9090, "TCP");
        flows.expect(false, ext("other"), a, 8080, "TCP");
        flows.expect(false, ext("other"), d, 6379, "TCP");
        flows.expect(false, ext("other"), c, 8080, "TCP");
        flows.expect(false, a, a, 9090, "TCP");
        // The API and the cleanup job reach Redis (and Sentinel).
        flows.expect(true, a, d, 6379, "TCP");
        flows.expect(true, c, d, 6379, "TCP");
        flows.expect(true, b, d, 6379, "TCP");
        flows.expect(false, ext("other"), b, 8080, "TCP");
        flows.expect(false, b, a, 8080, "TCP");
        flows.expect(false, d, a, 8080, "TCP");
        if let Some(s) = &sentinel {
            let s = ("sentinel", s);
            flows.expect(true, a, s, 26379, "TCP");
            flows.expect(true, c, s, 26379, "TCP");
            flows.expect(true, b, s, 26379, "TCP");
            flows.expect(true, s, d, 6379, "TCP");
            flows.expect(true, s, s, 26379, "TCP");
            flows.expect(true, d, d, 6379, "TCP");
            flows.expect(true, d, s, 26379, "TCP");
            flows.expect(false, ext("other"), s, 26379, "TCP");
            flows.expect(false, ext("client"), s, 26379, "TCP");
        }
        // Prometheus in the namespace (monitoring component) or in `monitoring`
        // (prometheus-operator component) scrapes the admin port and the exporters.
        flows.expect(operator, ext("cluster prometheus"), a, 9090, "TCP");
        flows.expect(operator, ext("cluster prometheus"), d, 9121, "TCP");
        flows.expect(false, ext("cluster prometheus"), d, 6379, "TCP");
        if let (Some(p), Some(g), Some(m)) = (&prometheus, &grafana, &alertmanager) {
            let (p, g, m) = (("prometheus", p), ("grafana", g), ("alertmanager", m));
            flows.expect(true, p, a, 9090, "TCP");
            flows.expect(true, p, d, 9121, "TCP");
            flows.expect(false, p, d, 6379, "TCP");
            if let Some(s) = &sentinel {
                flows.expect(true, p, ("sentinel", s), 9121, "TCP");
            }
            flows.expect(true, p, m, 9093, "TCP");
            flows.expect(true, g, p, 9090, "TCP");
            flows.expect(true, m, ("internet", &INTERNET), 443, "TCP");
            flows.expect(false, ext("other"), g, 3000, "TCP");
            flows.expect(false, ext("other"), p, 9090, "TCP");
        }
        failures.append(&mut flows.failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
