"""Tests of the crmcore command line."""
