"""The service's rules, independent of storage and transport: ARNs, quotas, status transitions
(`lifecycle`), inference-unit capacity, project-policy documents, image checks."""
