"""Deployment artefacts generated from the code: the k8s manifests (`paymesh.deploy.k8s`)."""
