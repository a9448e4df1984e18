"""Defaults and validation, as a user sees them in `-o yaml` and in kubectl's error lines."""
from kubeling.services.apiserver.api.models.core import Pod, ReplicationController
from kubeling.services.apiserver.api.quantity import format_quantity, parse_quantity
from kubeling.services.apiserver.api.schema import check, prune
from kubeling.services.apiserver.registry.defaults import image_pull_policy
from kubeling.services.apiserver.registry.deployments import DeploymentStrategy
from kubeling.services.apiserver.registry.namespaces import NamespaceStrategy
from kubeling.services.apiserver.registry.pods import PodStrategy
from kubeling.services.apiserver.registry.replicationcontrollers import ReplicationControllerStrategy
from kubeling.services.apiserver.registry.services import ServiceStrategy
from kubeling.services.apiserver.table.duration import human_duration
from kubeling.services.apiserver.validation.field import invalid_error


def msgs(errs):
    return [str(e) for e in errs]


def test_image_pull_policy_from_tag():
    assert image_pull_policy("nginx") == "Always"
    assert image_pull_policy("nginx:latest") == "Always"
    assert image_pull_policy("nginx:1.25") == "IfNotPresent"
    assert image_pull_policy("localhost:5000/app") == "Always"
    assert image_pull_policy("repo/app@sha256:abc") == "IfNotPresent"


def test_pod_defaults_and_validation():
    s = PodStrategy()
    pod = {"metadata": {"name": "p", "namespace": "d"},
           "spec": {"containers": [{"name": "c", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                                    "resources": {"limits": {"cpu": "1"}}}]}}
    s.default(pod)
    c = pod["spec"]["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent" and c["ports"][0]["protocol"] == "TCP"
    assert c["resources"]["requests"] == {"cpu": "1"} and c["terminationMessagePath"] == "/dev/termination-log"
    assert pod["spec"]["restartPolicy"] == "Always" and pod["spec"]["terminationGracePeriodSeconds"] == 30
    assert s.validate(pod) == []
    bad = {"metadata": {"name": "Bad_Name", "namespace": "d"},
           "spec": {"containers": [{"name": "c"}, {"name": "c", "image": "i"}], "restartPolicy": "Sometimes"}}
    out = msgs(s.validate(bad))
    assert any(m.startswith('metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain') for m in out)
    assert "spec.containers[0].image: Required value" in out
    assert 'spec.containers[1].name: Duplicate value: "c"' in out
    assert 'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"' in out


def test_invalid_error_message_shape():
    err = invalid_error("Pod", "bad-pod", PodStrategy().validate({"metadata": {"name": "bad-pod", "namespace": "d"}, "spec": {}}))
    assert err.code == 422 and err.message == 'Pod "bad-pod" is invalid: spec.containers: Required value'
    assert err.details["causes"] == [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}]


def test_deployment_defaults_and_selector_must_match():
    s = DeploymentStrategy()
    d = {"metadata": {"name": "d", "namespace": "n"},
         "spec": {"selector": {"matchLabels": {"app": "x"}},
                  "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    s.default(d)
    assert d["spec"]["replicas"] == 1 and d["spec"]["revisionHistoryLimit"] == 10 and d["spec"]["progressDeadlineSeconds"] == 600
    assert d["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": "25%"}
    assert d["spec"]["template"]["metadata"]["creationTimestamp"] is None
    out = msgs(s.validate(d))
    assert out == ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"y"}: `selector` does not match template `labels`']


def test_rc_selector_defaults_from_template_labels():
    s = ReplicationControllerStrategy()
    rc = {"metadata": {"name": "rc", "namespace": "n"},
          "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    s.default(rc)
    assert rc["spec"]["selector"] == {"app": "web"} and rc["metadata"]["labels"] == {"app": "web"} and rc["spec"]["replicas"] == 1
    assert s.validate(rc) == []


def test_service_defaults():
    s = ServiceStrategy("10.96.0.0/12", "30000-32767")
    svc = {"metadata": {"name": "svc", "namespace": "n"}, "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}}
    s.default(svc)
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["sessionAffinity"] == "None"
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert s.validate(svc) == []
    bad = {"metadata": {"name": "1svc", "namespace": "n"}, "spec": {"type": "Bogus", "ports": []}}
    out = msgs(s.validate(bad))
    assert any(m.startswith('metadata.name: Invalid value: "1svc": a DNS-1035 label') for m in out)
    assert any(m.startswith('spec.type: Unsupported value: "Bogus"') for m in out)


def test_namespace_defaults():
    s = NamespaceStrategy()
    ns = {"metadata": {"name": "dev"}}
    s.default(ns)
    assert ns["spec"]["finalizers"] == ["kubernetes"] and ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev"}
    assert msgs(s.validate({"metadata": {"name": "a.b"}}))[0].startswith('metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label')


def test_strict_decoding_paths_match_upstream():
    unknown, errs = check({"metadata": {"name": "x", "namepsace": "dev"},
                           "spec": {"containers": [{"name": "c", "image": "i", "port": 80}]}}, Pod)
    assert unknown == ["metadata.namepsace", "spec.containers[0].port"] and errs == []
    unknown, _ = check({"spec": {"template": {"containers": []}}}, ReplicationController)
    assert unknown == ["spec.template.containers"]
    _, errs = check({"spec": {"replicas": "3"}}, ReplicationController)
    assert errs == ["json: cannot unmarshal string into Go struct field spec.replicas of type int32"]
    assert prune({"metadata": {"name": "x", "bogus": 1}, "zzz": 2}, Pod) == {"metadata": {"name": "x"}}


def test_quantities():
    assert parse_quantity("100m") * 10 == 1
    assert parse_quantity("5Gi") == 5 * 2**30
    assert parse_quantity("1e3") == 1000
    assert parse_quantity(2) == 2
    assert format_quantity(parse_quantity("500m")) == "500m"
    assert format_quantity(parse_quantity("2Gi"), "5Gi") == "2Gi"


def test_human_duration():
    assert [human_duration(s) for s in (5, 119, 125, 600, 3 * 3600 + 60, 9 * 3600, 3 * 86400 + 3600, 30 * 86400)] == \
        ["5s", "119s", "2m5s", "10m", "3h1m", "9h", "3d1h", "30d"]
