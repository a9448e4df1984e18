from __future__ import annotations

import pytest

from kubeling.shared import kubeconfig, quantity
from kubeling.shared.selectors import match_label_selector, match_labels, match_node_selector


@pytest.mark.parametrize("q,milli", [("100m", 100), ("1", 1000), ("2.5", 2500), ("0.1", 100), (3, 3000), ("1e3", 1000000)])
def test_milli_value(q, milli):
    assert quantity.milli_value(q) == milli


@pytest.mark.parametrize("q,v", [("1Ki", 1024), ("8Gi", 8 * 2**30), ("1M", 10**6), ("129M", 129 * 10**6), ("110", 110), ("1.5", 2)])
def test_value_rounds_up(q, v):
    assert quantity.value(q) == v


def test_invalid_quantity():
    with pytest.raises(ValueError):
        quantity.parse("12XB")


def test_formatting():
    assert quantity.format_bytes(8 * 2**30) == "8Gi"
    assert quantity.format_bytes(1000) == "1000"
    assert quantity.format_milli(4000) == "4" and quantity.format_milli(250) == "250m"


def test_label_selectors():
    labels = {"app": "web", "tier": "front", "gen": "3"}
    assert match_labels({"app": "web"}, labels) and not match_labels({"app": "db"}, labels)
    assert match_label_selector(None, labels)
    sel = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "x"]},
                                                               {"key": "legacy", "operator": "DoesNotExist"}]}
    assert match_label_selector(sel, labels)
    sel["matchExpressions"].append({"key": "tier", "operator": "NotIn", "values": ["front"]})
    assert not match_label_selector(sel, labels)


def test_node_selector_terms_are_ored_and_empty_term_matches_nothing():
    node = {"metadata": {"name": "n1", "labels": {"disk": "ssd", "cores": "8"}}}
    assert not match_node_selector({"nodeSelectorTerms": [{}]}, node)
    terms = {"nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]},
                                   {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}]}
    assert match_node_selector(terms, node)
    assert match_node_selector({"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}, node)
    assert not match_node_selector({"nodeSelectorTerms": [{"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["x"]}]}]}, node)


KCFG = """
apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "http://127.0.0.1:1, http://127.0.0.2:2/", insecure-skip-tls-verify: true}
- name: b
  cluster: {server: "http://127.0.0.9:9"}
contexts:
- name: ca
  context: {cluster: a, user: u, namespace: kube-system}
- name: cb
  context: {cluster: b, user: v}
current-context: ca
users:
- name: u
  user: {token: abc}
- name: v
  user: {tokenFile: tok}
"""


def test_kubeconfig_servers_token_namespace(tmp_path):
    (tmp_path / "tok").write_text("from-file\n")
    cfg = kubeconfig.parse(KCFG, tmp_path)
    assert cfg.servers == ["http://127.0.0.1:1", "http://127.0.0.2:2"]
    assert cfg.token == "abc" and cfg.namespace == "kube-system" and cfg.verify is False
    other = kubeconfig.parse(KCFG, tmp_path, context="cb")
    assert other.servers == ["http://127.0.0.9:9"] and other.token == "from-file" and other.namespace == "default"
    p = tmp_path / "k"
    p.write_text(KCFG)
    assert kubeconfig.load(p, server="http://127.0.0.5:5").servers == ["http://127.0.0.5:5"]
    with pytest.raises(kubeconfig.KubeconfigError):
        kubeconfig.parse(KCFG, tmp_path, context="nope")
