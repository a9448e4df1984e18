"""Authentication and authorization for the apiserver, as kube-apiserver structures them.

- authn.py: the authenticator chain (X.509 client certificates, static tokens, ServiceAccount
  JWTs, anonymous), producing a UserInfo or a 401;
- attributes.py: the request attributes an authorizer decides on (verb, resource, namespace...);
- authz.py: the authorizer chain (`--authorization-mode`), upstream's 403 message;
- rbac.py / node.py: the RBAC and Node authorizers, evaluated from the watch caches;
- policy.py: the bootstrap cluster roles and bindings reconciled at startup;
- serviceaccount.py / jwt.py: ServiceAccount token issuing and verification;
- bootstrap.py: credentials for every component (token file, kubeconfigs, keys) for the launcher.
"""
