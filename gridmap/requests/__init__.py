"""Requests: intake, the 五单 workflow with audited transitions, SLAs and KPIs."""
