"""The person registry (master patient index): identifiers, demographics, contacts, insurance,
matching, merge and unmerge; the clinical record; FHIR import and export of a person.

Other domains use only what public.py exports, inside their own transaction.
"""
