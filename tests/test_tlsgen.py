"""`grade tls-cert`: the Secret manifest and PEM files a learner puts next to their Ingress."""

from __future__ import annotations

import base64
import datetime as dt
import stat

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from grader.tlsgen import TLSGenError, cert_sans, secret_name_for, write_tls_secret


def test_writes_a_tls_secret_whose_certificate_names_the_host(tmp_path):
    path = write_tls_secret(["myapp.example.com"], tmp_path)
    assert path == tmp_path / "myapp-tls.yaml"
    secret = yaml.safe_load(path.read_text())
    assert secret["kind"] == "Secret" and secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"] == {"name": "myapp-tls"}  # no namespace: the lesson's namespace applies
    cert_pem = base64.b64decode(secret["data"]["tls.crt"])
    assert cert_sans(cert_pem) == ["myapp.example.com"]
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.issuer == cert.subject  # self-signed
    assert cert.not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=300)


def test_key_in_the_secret_matches_its_certificate_and_the_pem_files(tmp_path):
    path = write_tls_secret(["myapp.example.com"], tmp_path)
    secret = yaml.safe_load(path.read_text())
    key_pem = base64.b64decode(secret["data"]["tls.key"])
    cert_pem = base64.b64decode(secret["data"]["tls.crt"])
    assert (tmp_path / "tls.key").read_bytes() == key_pem
    assert (tmp_path / "tls.crt").read_bytes() == cert_pem
    key = serialization.load_pem_private_key(key_pem, password=None)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert stat.S_IMODE((tmp_path / "tls.key").stat().st_mode) == 0o600


def test_several_hosts_wildcards_and_ips_all_become_sans(tmp_path):
    path = write_tls_secret(["shop.example.com", "*.example.com", "10.0.0.1"], tmp_path, name="shop-tls", namespace="lesson6")
    secret = yaml.safe_load(path.read_text())
    assert secret["metadata"] == {"name": "shop-tls", "namespace": "lesson6"}
    assert cert_sans(base64.b64decode(secret["data"]["tls.crt"])) == ["shop.example.com", "*.example.com", "10.0.0.1"]


def test_each_call_makes_a_new_key(tmp_path):
    a = yaml.safe_load(write_tls_secret(["a.example.com"], tmp_path / "a").read_text())
    b = yaml.safe_load(write_tls_secret(["a.example.com"], tmp_path / "b").read_text())
    assert a["data"]["tls.key"] != b["data"]["tls.key"]


def test_default_secret_names():
    assert secret_name_for("myapp.example.com") == "myapp-tls"
    assert secret_name_for("*.example.com") == "wildcard-example-tls"
    assert secret_name_for("MyApp.Example.com.") == "myapp-tls"


@pytest.mark.parametrize("host", ["", "my app.example.com", "a.*.example.com", "-bad.example.com", "x" * 64 + ".com"])
def test_rejects_names_a_certificate_cannot_carry(tmp_path, host):
    with pytest.raises(TLSGenError):
        write_tls_secret([host], tmp_path)
    assert not (tmp_path / "tls.key").exists()


def test_refuses_a_file_as_the_output_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(TLSGenError, match="is a file"):
        write_tls_secret(["myapp.example.com"], f)


def test_refuses_no_host(tmp_path):
    with pytest.raises(TLSGenError, match="no host"):
        write_tls_secret([], tmp_path)
