"""Pod spec validation (upstream `ValidatePodSpec`), reused by every kind with a pod template."""
from __future__ import annotations

from typing import Any

from ..registry.selectors import selector_from_object
from .field import FieldError, duplicate, invalid, not_supported, required
from .names import dns1123_label, dns1123_subdomain, is_env_var_name, validate_annotations, validate_labels

RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]


def _containers(cs: Any, path: str, volumes: set[str], names: set[str], required_list: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if not cs:
        if required_list:
            errs.append(required(path))
        return errs
    if not isinstance(cs, list):
        return errs
    for i, c in enumerate(cs):
        p = f"{path}[{i}]"
        if not isinstance(c, dict):
            continue
        name = c.get("name")
        if not name:
            errs.append(required(f"{p}.name"))
        else:
            for msg in dns1123_label(name):
                errs.append(invalid(f"{p}.name", name, msg))
            if name in names:
                errs.append(duplicate(f"{p}.name", name))
            names.add(name)
        if not c.get("image"):
            errs.append(required(f"{p}.image"))
        if c.get("imagePullPolicy") and c["imagePullPolicy"] not in PULL_POLICIES:
            errs.append(not_supported(f"{p}.imagePullPolicy", c["imagePullPolicy"], PULL_POLICIES))
        seen_ports: set[tuple[int, str]] = set()
        for j, port in enumerate(c.get("ports") or []):
            pp = f"{p}.ports[{j}]"
            cp = port.get("containerPort")
            if cp is None or cp == 0:
                errs.append(required(f"{pp}.containerPort"))
            elif not isinstance(cp, int) or not 1 <= cp <= 65535:
                errs.append(invalid(f"{pp}.containerPort", cp, "must be between 1 and 65535, inclusive"))
            proto = port.get("protocol", "TCP")
            if proto not in PROTOCOLS:
                errs.append(not_supported(f"{pp}.protocol", proto, PROTOCOLS))
            hp = port.get("hostPort")
            if hp and (not isinstance(hp, int) or not 1 <= hp <= 65535):
                errs.append(invalid(f"{pp}.hostPort", hp, "must be between 1 and 65535, inclusive"))
            if port.get("name"):
                if len(port["name"]) > 15:
                    errs.append(invalid(f"{pp}.name", port["name"], "must be no more than 15 characters"))
            key = (cp, proto)
            if cp and key in seen_ports:
                pass
            seen_ports.add(key)
        for j, e in enumerate(c.get("env") or []):
            en = e.get("name") if isinstance(e, dict) else None
            if not en:
                errs.append(required(f"{p}.env[{j}].name"))
            elif not is_env_var_name(en):
                errs.append(invalid(f"{p}.env[{j}].name", en, "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"))
        for j, vm in enumerate(c.get("volumeMounts") or []):
            vp = f"{p}.volumeMounts[{j}]"
            if not vm.get("name"):
                errs.append(required(f"{vp}.name"))
            elif vm["name"] not in volumes:
                errs.append(FieldError("NotFound", f"{vp}.name", "", vm["name"]))
            if not vm.get("mountPath"):
                errs.append(required(f"{vp}.mountPath"))
        from ..api.quantity import parse_quantity
        res = c.get("resources") or {}
        for kind in ("limits", "requests"):
            for rname, q in (res.get(kind) or {}).items():
                try:
                    parse_quantity(q)
                except ValueError:
                    errs.append(invalid(f"{p}.resources.{kind}[{rname}]", q, "must match the regex ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"))
        lim, req = res.get("limits") or {}, res.get("requests") or {}
        for rname in req:
            if rname in lim:
                try:
                    if parse_quantity(req[rname]) > parse_quantity(lim[rname]):
                        errs.append(invalid(f"{p}.resources.requests", req[rname], f"must be less than or equal to {rname} limit of {lim[rname]}"))
                except ValueError:
                    pass
    return errs


def validate_pod_spec(spec: Any, path: str) -> list[FieldError]:
    if not isinstance(spec, dict):
        spec = {}
    errs: list[FieldError] = []
    volumes: set[str] = set()
    for i, v in enumerate(spec.get("volumes") or []):
        n = v.get("name") if isinstance(v, dict) else None
        if not n:
            errs.append(required(f"{path}.volumes[{i}].name"))
            continue
        for msg in dns1123_label(n):
            errs.append(invalid(f"{path}.volumes[{i}].name", n, msg))
        if n in volumes:
            errs.append(duplicate(f"{path}.volumes[{i}].name", n))
        volumes.add(n)
    names: set[str] = set()
    errs += _containers(spec.get("containers"), f"{path}.containers", volumes, names, True)
    errs += _containers(spec.get("initContainers"), f"{path}.initContainers", volumes, names, False)
    rp = spec.get("restartPolicy")
    if rp is not None and rp not in RESTART_POLICIES:
        errs.append(not_supported(f"{path}.restartPolicy", rp, RESTART_POLICIES))
    dp = spec.get("dnsPolicy")
    if dp is not None and dp not in DNS_POLICIES:
        errs.append(not_supported(f"{path}.dnsPolicy", dp, DNS_POLICIES))
    tgp = spec.get("terminationGracePeriodSeconds")
    if isinstance(tgp, int) and tgp < 0:
        errs.append(invalid(f"{path}.terminationGracePeriodSeconds", tgp, "must be greater than or equal to 0"))
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or ads <= 0):
        errs.append(invalid(f"{path}.activeDeadlineSeconds", ads, "must be between 1 and 2147483647, inclusive"))
    if spec.get("serviceAccountName"):
        for msg in dns1123_subdomain(spec["serviceAccountName"]):
            errs.append(invalid(f"{path}.serviceAccountName", spec["serviceAccountName"], msg))
    if spec.get("nodeName"):
        for msg in dns1123_subdomain(spec["nodeName"]):
            errs.append(invalid(f"{path}.nodeName", spec["nodeName"], msg))
    errs += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for i, t in enumerate(spec.get("tolerations") or []):
        op = t.get("operator", "Equal")
        if op not in ("Equal", "Exists"):
            errs.append(not_supported(f"{path}.tolerations[{i}].operator", op, ["Equal", "Exists"]))
        eff = t.get("effect")
        if eff and eff not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(not_supported(f"{path}.tolerations[{i}].effect", eff, ["NoExecute", "NoSchedule", "PreferNoSchedule"]))
        if op == "Exists" and t.get("value"):
            errs.append(invalid(f"{path}.tolerations[{i}].operator", t.get("value"), "value must be empty when `operator` is 'Exists'"))
    return errs


def validate_template(tmpl: Any, path: str, selector: dict[str, Any] | None, selector_path: str,
                      restart_policies: list[str] | None = None, selector_is_map: bool = False) -> list[FieldError]:
    """A pod template: labels must match the selector; restartPolicy restricted for controllers."""
    errs: list[FieldError] = []
    if not isinstance(tmpl, dict):
        return [required(path)]
    md = tmpl.get("metadata") or {}
    labels = md.get("labels") or {}
    errs += validate_labels(labels, f"{path}.metadata.labels")
    errs += validate_annotations(md.get("annotations"), f"{path}.metadata.annotations")
    if selector is not None:
        sel = selector_from_object({"matchLabels": selector} if selector_is_map else selector)
        if not sel.empty() and not sel.matches(labels):
            errs.append(invalid(f"{path}.metadata.labels", labels, "`selector` does not match template `labels`"))
    errs += validate_pod_spec(tmpl.get("spec"), f"{path}.spec")
    spec = tmpl.get("spec") or {}
    if restart_policies and isinstance(spec, dict):
        rp = spec.get("restartPolicy")
        if rp not in restart_policies:
            if rp is None:
                errs.append(required(f"{path}.spec.restartPolicy", "valid values: " + ", ".join(f'"{r}"' for r in restart_policies)))
            elif rp in RESTART_POLICIES:
                errs.append(not_supported(f"{path}.spec.restartPolicy", rp, restart_policies))
    return errs


def validate_label_selector(sel: Any, path: str, kind_desc: str) -> list[FieldError]:
    if sel is None:
        return [required(path)]
    errs: list[FieldError] = []
    if not (sel.get("matchLabels") or sel.get("matchExpressions")):
        errs.append(invalid(path, sel, f"empty selector is invalid for {kind_desc}"))
    errs += validate_labels(sel.get("matchLabels"), f"{path}.matchLabels")
    for i, e in enumerate(sel.get("matchExpressions") or []):
        op = e.get("operator")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errs.append(not_supported(f"{path}.matchExpressions[{i}].operator", op, ["In", "NotIn", "Exists", "DoesNotExist"]))
        elif op in ("In", "NotIn") and not e.get("values"):
            errs.append(required(f"{path}.matchExpressions[{i}].values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and e.get("values"):
            errs.append(forbidden_values(f"{path}.matchExpressions[{i}].values"))
    return errs


def forbidden_values(path: str) -> FieldError:
    return FieldError("Forbidden", path, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
