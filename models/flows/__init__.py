"""Normalizing flows with exact likelihoods: NICE, RealNVP and Flow++ on one bijector interface."""
