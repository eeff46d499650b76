"""The Voice ID API of `hark serve`, driven by boto3 and the AWS CLI exactly as AWS users do.

Started by services/hark/tests/voiceid.rs (cargo test), which passes the endpoint and the generated
credentials in HARK_* variables. Every operation, every error code, pagination, idempotency, soft
delete and restore. Phase 2 (test_voiceid_phase2.py) runs after a restart without one key.
"""

import datetime
import hashlib
import hmac
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import time
import unittest

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["HARK_ENDPOINT"]
KEY = os.environ["HARK_ACCESS_KEY_ID"]
SECRET = os.environ["HARK_SECRET_ACCESS_KEY"]
HARK = os.environ["HARK_BIN"]
DATA_DIR = os.environ["HARK_DATA_DIR"]
WORK_DIR = os.environ["HARK_WORK_DIR"]
DEFAULT_KEY = "alias/hark-default"


def client(validate=True, key=KEY, secret=SECRET, region="us-east-1"):
    return boto3.client(
        "voice-id",
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, parameter_validation=validate),
    )


VID = client()
RAW = client(validate=False)


def sign_and_send(target, body, key=KEY, secret=SECRET, when=None, region="eu-west-1"):
    """An independent SigV4 signer (not botocore's) over a raw HTTP request."""
    host = ENDPOINT.split("://", 1)[1]
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    payload = body.encode() if isinstance(body, str) else body
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-target": target,
    }
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        ["POST", "/", ""]
        + [f"{k}:{headers[k]}" for k in sorted(headers)]
        + ["", signed, hashlib.sha256(payload).hexdigest()]
    )
    scope = f"{date}/{region}/voiceid/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    k = ("AWS4" + secret).encode()
    for part in (date, region, "voiceid", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request("POST", "/", body=payload, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    result = (resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), json.loads(data or b"{}"))
    conn.close()
    return result


def hark(*args):
    out = subprocess.run(
        [HARK, "voiceid", *args, "--data-dir", DATA_DIR],
        cwd=WORK_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        raise AssertionError(f"hark voiceid {args}: {out.returncode}\n{out.stdout}\n{out.stderr}")
    return out.stdout


class VoiceIdCase(unittest.TestCase):
    def assertError(self, code, call, *args, status=None, **kwargs):
        with self.assertRaises(ClientError) as ctx:
            call(*args, **kwargs)
        err = ctx.exception.response
        self.assertEqual(err["Error"]["Code"], code, err)
        if status is not None:
            self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status, err)
        self.assertEqual(err["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype"), code)
        self.assertTrue(err["Error"]["Message"], err)
        return err

    def new_domain(self, name="demo", **kwargs):
        d = VID.create_domain(
            Name=name, ServerSideEncryptionConfiguration={"KmsKeyId": kwargs.pop("key", DEFAULT_KEY)}, **kwargs
        )["Domain"]
        self.addCleanup(self.drop_domain, d["DomainId"])
        return d

    @staticmethod
    def drop_domain(domain_id):
        try:
            VID.delete_domain(DomainId=domain_id)
        except ClientError:
            pass


class Domains(VoiceIdCase):
    def test_create_describe_update_list_delete(self):
        d = self.new_domain(
            "sales-eu", Description="EU sales Grüße", Tags=[{"Key": "team", "Value": "fraud"}], ClientToken="t-1"
        )
        self.assertRegex(d["DomainId"], r"^[a-zA-Z0-9]{22}$")
        self.assertRegex(d["Arn"], r"^arn:aws:voiceid:us-east-1:[0-9]{12}:domain/" + d["DomainId"] + "$")
        self.assertEqual(d["DomainStatus"], "ACTIVE")
        self.assertEqual(d["ServerSideEncryptionConfiguration"], {"KmsKeyId": DEFAULT_KEY})
        self.assertRegex(d["WatchlistDetails"]["DefaultWatchlistId"], r"^[a-zA-Z0-9]{22}$")
        self.assertIsInstance(d["CreatedAt"], datetime.datetime)
        self.assertNotIn("ServerSideEncryptionUpdateDetails", d)
        got = VID.describe_domain(DomainId=d["DomainId"])["Domain"]
        self.assertEqual(got["Name"], "sales-eu")
        self.assertEqual(got["Description"], "EU sales Grüße")
        up = VID.update_domain(
            DomainId=d["DomainId"], Name="sales-emea", ServerSideEncryptionConfiguration={"KmsKeyId": DEFAULT_KEY}
        )["Domain"]
        self.assertEqual(up["Name"], "sales-emea")
        self.assertNotIn("Description", up, "UpdateDomain clobbers: an omitted description is removed")
        self.assertGreaterEqual(up["UpdatedAt"], up["CreatedAt"])
        ids = [s["DomainId"] for s in VID.list_domains()["DomainSummaries"]]
        self.assertIn(d["DomainId"], ids)
        self.assertEqual(VID.delete_domain(DomainId=d["DomainId"])["ResponseMetadata"]["HTTPStatusCode"], 200)
        err = self.assertError("ResourceNotFoundException", VID.describe_domain, DomainId=d["DomainId"], status=404)
        self.assertEqual(err["ResourceType"], "DOMAIN")
        self.assertNotIn(d["DomainId"], [s["DomainId"] for s in VID.list_domains()["DomainSummaries"]])

    def test_client_token_idempotency(self):
        a = self.new_domain("idem", ClientToken="same-token-1")
        b = VID.create_domain(
            Name="idem", ClientToken="same-token-1", ServerSideEncryptionConfiguration={"KmsKeyId": DEFAULT_KEY}
        )["Domain"]
        self.assertEqual(a["DomainId"], b["DomainId"])
        self.assertError(
            "ValidationException",
            VID.create_domain,
            Name="other",
            ClientToken="same-token-1",
            ServerSideEncryptionConfiguration={"KmsKeyId": DEFAULT_KEY},
        )
        w1 = VID.create_watchlist(DomainId=a["DomainId"], Name="wl", ClientToken="wl-token")["Watchlist"]
        w2 = VID.create_watchlist(DomainId=a["DomainId"], Name="wl", ClientToken="wl-token")["Watchlist"]
        self.assertEqual(w1["WatchlistId"], w2["WatchlistId"])
        self.assertEqual(len(VID.list_watchlists(DomainId=a["DomainId"])["WatchlistSummaries"]), 2)

    def test_domain_quota_is_402(self):
        live = len(list(self.all_domains()))
        for i in range(3 - live):
            self.new_domain(f"quota-{i}")
        err = self.assertError(
            "ServiceQuotaExceededException",
            VID.create_domain,
            Name="one-too-many",
            ServerSideEncryptionConfiguration={"KmsKeyId": DEFAULT_KEY},
            status=402,
        )
        self.assertIn("3", err["Error"]["Message"])

    @staticmethod
    def all_domains():
        for page in VID.get_paginator("list_domains").paginate(PaginationConfig={"PageSize": 1}):
            yield from page["DomainSummaries"]

    def test_list_domains_pages_by_at_most_10(self):
        self.new_domain("p1")
        self.new_domain("p2")
        pages = list(VID.get_paginator("list_domains").paginate(MaxResults=1))
        self.assertGreaterEqual(len(pages), 2)
        self.assertTrue(all(len(p["DomainSummaries"]) <= 1 for p in pages))
        self.assertNotIn("NextToken", pages[-1])
        self.assertError("ValidationException", RAW.list_domains, MaxResults=11, status=400)

    def test_unknown_kms_key_is_refused_clearly(self):
        err = self.assertError(
            "ValidationException",
            VID.create_domain,
            Name="k",
            ServerSideEncryptionConfiguration={"KmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/nope"},
        )
        self.assertIn("not a key in hark's keyring", err["Error"]["Message"])

    def test_key_change_reencrypts_in_the_background(self):
        d = self.new_domain("rekey")
        up = VID.update_domain(
            DomainId=d["DomainId"], Name="rekey", ServerSideEncryptionConfiguration={"KmsKeyId": "alias/second"}
        )["Domain"]
        details = up["ServerSideEncryptionUpdateDetails"]
        self.assertEqual(details, {"OldKmsKeyId": DEFAULT_KEY, "UpdateStatus": "IN_PROGRESS"})
        try:
            VID.update_domain(
                DomainId=d["DomainId"], Name="rekey", ServerSideEncryptionConfiguration={"KmsKeyId": DEFAULT_KEY}
            )
            locked = None
        except ClientError as e:
            locked = e.response
        if locked is not None:
            self.assertEqual(locked["ConflictType"], "DOMAIN_LOCKED_FROM_ENCRYPTION_UPDATES")
        deadline = time.time() + 30
        while True:
            got = VID.describe_domain(DomainId=d["DomainId"])["Domain"]
            if got["ServerSideEncryptionUpdateDetails"]["UpdateStatus"] == "COMPLETED":
                break
            self.assertLess(time.time(), deadline, got)
            time.sleep(0.2)

    def test_tags(self):
        d = self.new_domain("tagged", Tags=[{"Key": "a", "Value": "1"}])
        arn = d["Arn"]
        VID.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}])
        self.assertEqual(
            VID.list_tags_for_resource(ResourceArn=arn)["Tags"],
            [{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}],
        )
        VID.untag_resource(ResourceArn=arn, TagKeys=["a"])
        self.assertEqual(VID.list_tags_for_resource(ResourceArn=arn)["Tags"], [{"Key": "b", "Value": "2"}])
        err = self.assertError(
            "ResourceNotFoundException",
            VID.list_tags_for_resource,
            ResourceArn="arn:aws:voiceid:us-east-1:000000000000:domain/" + "Z" * 22,
        )
        self.assertEqual(err["ResourceType"], "DOMAIN")
        self.assertError(
            "ValidationException", RAW.tag_resource, ResourceArn=arn, Tags=[{"Key": "k" * 129, "Value": "v"}]
        )

    def test_soft_delete_hides_everything_and_restore_brings_it_back(self):
        d = self.new_domain("restore-me")
        dom = d["DomainId"]
        sp = VID.opt_out_speaker(DomainId=dom, SpeakerId="kept-through-restore")["Speaker"]
        VID.delete_domain(DomainId=dom)
        for call, kw in [
            (VID.describe_domain, {}),
            (VID.list_speakers, {}),
            (VID.describe_speaker, {"SpeakerId": "kept-through-restore"}),
            (VID.list_watchlists, {}),
            (VID.delete_domain, {}),
        ]:
            err = self.assertError("ResourceNotFoundException", call, DomainId=dom, **kw)
            self.assertEqual(err["ResourceType"], "DOMAIN")
        out = hark("restore-domain", dom)
        self.assertIn(dom, out)
        got = VID.describe_speaker(DomainId=dom, SpeakerId=sp["GeneratedSpeakerId"])["Speaker"]
        self.assertEqual(got["CustomerSpeakerId"], "kept-through-restore")
        self.assertIn(dom, [s["DomainId"] for s in VID.list_domains(MaxResults=10)["DomainSummaries"]])


class Speakers(VoiceIdCase):
    def setUp(self):
        self.dom = self.new_domain("speakers")["DomainId"]

    def test_opt_out_describe_list_delete_with_either_id(self):
        s = VID.opt_out_speaker(DomainId=self.dom, SpeakerId="caller-42")["Speaker"]
        self.assertEqual(s["Status"], "OPTED_OUT")
        self.assertRegex(s["GeneratedSpeakerId"], r"^id#[a-zA-Z0-9]{22}$")
        self.assertEqual(s["CustomerSpeakerId"], "caller-42")
        self.assertNotIn("LastAccessedAt", s, "opt-out is not an access")
        by_generated = VID.describe_speaker(DomainId=self.dom, SpeakerId=s["GeneratedSpeakerId"])["Speaker"]
        by_customer = VID.describe_speaker(DomainId=self.dom, SpeakerId="caller-42")["Speaker"]
        self.assertEqual(by_generated, by_customer)
        again = VID.opt_out_speaker(DomainId=self.dom, SpeakerId=s["GeneratedSpeakerId"])["Speaker"]
        self.assertEqual(again["GeneratedSpeakerId"], s["GeneratedSpeakerId"])
        VID.delete_speaker(DomainId=self.dom, SpeakerId="caller-42")
        err = self.assertError(
            "ResourceNotFoundException", VID.describe_speaker, DomainId=self.dom, SpeakerId="caller-42", status=404
        )
        self.assertEqual(err["ResourceType"], "SPEAKER")
        err = self.assertError(
            "ResourceNotFoundException", VID.delete_speaker, DomainId=self.dom, SpeakerId=s["GeneratedSpeakerId"]
        )
        self.assertEqual(err["ResourceType"], "SPEAKER")

    def test_pagination_and_tamper_evident_tokens(self):
        for i in range(5):
            VID.opt_out_speaker(DomainId=self.dom, SpeakerId=f"pager-{i}")
        pages = list(VID.get_paginator("list_speakers").paginate(DomainId=self.dom, MaxResults=2))
        self.assertEqual([len(p["SpeakerSummaries"]) for p in pages], [2, 2, 1])
        names = sorted(s["CustomerSpeakerId"] for p in pages for s in p["SpeakerSummaries"])
        self.assertEqual(names, [f"pager-{i}" for i in range(5)])
        token = pages[0]["NextToken"]
        self.assertTrue(token.isascii())
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        self.assertError("ValidationException", VID.list_speakers, DomainId=self.dom, NextToken=forged)
        other = self.new_domain("other")["DomainId"]
        err = self.assertError("ValidationException", VID.list_speakers, DomainId=other, NextToken=token)
        self.assertIn("different request", err["Error"]["Message"])
        self.assertError("ValidationException", RAW.list_speakers, DomainId=self.dom, MaxResults=101)

    def test_domain_isolation(self):
        other = self.new_domain("isolated")["DomainId"]
        s = VID.opt_out_speaker(DomainId=self.dom, SpeakerId="only-in-one")["Speaker"]
        for sid in ("only-in-one", s["GeneratedSpeakerId"]):
            self.assertError("ResourceNotFoundException", VID.describe_speaker, DomainId=other, SpeakerId=sid)
        self.assertEqual(VID.list_speakers(DomainId=other)["SpeakerSummaries"], [])

    def test_validation_messages_follow_the_model(self):
        err = self.assertError(
            "ValidationException", RAW.describe_speaker, DomainId="x" * 30, SpeakerId="ok", status=400
        )
        self.assertIn("Member must have length less than or equal to 22", err["Error"]["Message"])
        err = self.assertError("ValidationException", RAW.describe_speaker, DomainId=self.dom, SpeakerId="-bad")
        self.assertIn("regular expression", err["Error"]["Message"])
        err = self.assertError(
            "ValidationException", RAW.list_speaker_enrollment_jobs, DomainId=self.dom, JobStatus="BOGUS"
        )
        self.assertIn("enum value set", err["Error"]["Message"])
        err = self.assertError("ValidationException", RAW.create_domain, Name="bad name!",
                               ServerSideEncryptionConfiguration={"KmsKeyId": DEFAULT_KEY})
        self.assertIn("at 'name'", err["Error"]["Message"])

    def test_corrupt_row_is_an_internal_server_error(self):
        VID.opt_out_speaker(DomainId=self.dom, SpeakerId="corrupt-me")
        def set_status(status):
            db = sqlite3.connect(os.path.join(DATA_DIR, "hark.db"), timeout=10)
            db.execute("UPDATE voiceid_speakers SET status = ? WHERE customer_id = 'corrupt-me'", (status,))
            db.commit()
            db.close()

        set_status("BOGUS")
        err = self.assertError(
            "InternalServerException", VID.describe_speaker, DomainId=self.dom, SpeakerId="corrupt-me", status=500
        )
        self.assertNotIn("BOGUS", err["Error"]["Message"], "details stay in the log")
        set_status("OPTED_OUT")
        VID.delete_speaker(DomainId=self.dom, SpeakerId="corrupt-me")


class WatchlistsAndFraudsters(VoiceIdCase):
    def setUp(self):
        d = self.new_domain("fraud")
        self.dom = d["DomainId"]
        self.default = d["WatchlistDetails"]["DefaultWatchlistId"]

    def add_fraudster(self, watchlist=None):
        args = ["add-fraudster", "--domain-id", self.dom] + (["--watchlist-id", watchlist] if watchlist else [])
        return json.loads(hark(*args))["GeneratedFraudsterId"]

    def test_watchlist_lifecycle_and_default_rules(self):
        dw = VID.describe_watchlist(DomainId=self.dom, WatchlistId=self.default)["Watchlist"]
        self.assertTrue(dw["DefaultWatchlist"])
        self.assertError("ValidationException", VID.delete_watchlist, DomainId=self.dom, WatchlistId=self.default)
        self.assertError("ValidationException", VID.update_watchlist, DomainId=self.dom, WatchlistId=self.default, Name="x")
        w = VID.create_watchlist(DomainId=self.dom, Name="vip", Description="VIP fraud")["Watchlist"]
        self.assertFalse(w["DefaultWatchlist"])
        u = VID.update_watchlist(DomainId=self.dom, WatchlistId=w["WatchlistId"], Name="vip2")["Watchlist"]
        self.assertEqual((u["Name"], u["Description"]), ("vip2", "VIP fraud"))
        VID.create_watchlist(DomainId=self.dom, Name="third")
        self.assertError(
            "ServiceQuotaExceededException", VID.create_watchlist, DomainId=self.dom, Name="fourth", status=402
        )
        pages = list(VID.get_paginator("list_watchlists").paginate(DomainId=self.dom, MaxResults=1))
        self.assertEqual(sum(len(p["WatchlistSummaries"]) for p in pages), 3)
        VID.delete_watchlist(DomainId=self.dom, WatchlistId=w["WatchlistId"])
        err = self.assertError(
            "ResourceNotFoundException", VID.describe_watchlist, DomainId=self.dom, WatchlistId=w["WatchlistId"]
        )
        self.assertEqual(err["ResourceType"], "WATCHLIST")

    def test_fraudsters_associations_and_conflicts(self):
        fid = self.add_fraudster()
        f = VID.describe_fraudster(DomainId=self.dom, FraudsterId=fid)["Fraudster"]
        self.assertEqual(f["WatchlistIds"], [self.default])
        self.assertIsInstance(f["CreatedAt"], datetime.datetime)
        err = self.assertError(
            "ConflictException",
            VID.disassociate_fraudster,
            DomainId=self.dom, FraudsterId=fid, WatchlistId=self.default, status=409,
        )
        self.assertEqual(err["ConflictType"], "FRAUDSTER_MUST_BELONG_TO_AT_LEAST_ONE_WATCHLIST")
        w = VID.create_watchlist(DomainId=self.dom, Name="second")["Watchlist"]["WatchlistId"]
        both = VID.associate_fraudster(DomainId=self.dom, FraudsterId=fid, WatchlistId=w)["Fraudster"]
        self.assertEqual(sorted(both["WatchlistIds"]), sorted([self.default, w]))
        err = self.assertError("ConflictException", VID.delete_watchlist, DomainId=self.dom, WatchlistId=w)
        self.assertEqual(err["ConflictType"], "CANNOT_DELETE_NON_EMPTY_WATCHLIST")
        self.add_fraudster(w)
        listed = list(VID.get_paginator("list_fraudsters").paginate(DomainId=self.dom, MaxResults=1))
        self.assertEqual(sum(len(p["FraudsterSummaries"]) for p in listed), 2)
        in_default = VID.list_fraudsters(DomainId=self.dom, WatchlistId=self.default)["FraudsterSummaries"]
        self.assertEqual([x["GeneratedFraudsterId"] for x in in_default], [fid])
        one = VID.disassociate_fraudster(DomainId=self.dom, FraudsterId=fid, WatchlistId=self.default)["Fraudster"]
        self.assertEqual(one["WatchlistIds"], [w])
        VID.delete_fraudster(DomainId=self.dom, FraudsterId=fid)
        err = self.assertError("ResourceNotFoundException", VID.describe_fraudster, DomainId=self.dom, FraudsterId=fid)
        self.assertEqual(err["ResourceType"], "FRAUDSTER")
        err = self.assertError(
            "ResourceNotFoundException", VID.list_fraudsters, DomainId=self.dom, WatchlistId="Q" * 22
        )
        self.assertEqual(err["ResourceType"], "WATCHLIST")

    def test_fraudster_quota_per_watchlist_is_402(self):
        # The suite's hark runs with fraudsters_per_watchlist = 2.
        w = VID.create_watchlist(DomainId=self.dom, Name="small")["Watchlist"]["WatchlistId"]
        self.add_fraudster(w)
        self.add_fraudster(w)
        extra = self.add_fraudster()
        self.assertError(
            "ServiceQuotaExceededException",
            VID.associate_fraudster, DomainId=self.dom, FraudsterId=extra, WatchlistId=w, status=402,
        )


class LaterOperations(VoiceIdCase):
    """Batch jobs and sessions answer as the model says for a domain without any."""

    def test_jobs_and_sessions(self):
        dom = self.new_domain("jobs")["DomainId"]
        self.assertEqual(VID.list_speaker_enrollment_jobs(DomainId=dom)["JobSummaries"], [])
        self.assertEqual(VID.list_fraudster_registration_jobs(DomainId=dom)["JobSummaries"], [])
        err = self.assertError("ResourceNotFoundException", VID.describe_speaker_enrollment_job, DomainId=dom, JobId="J" * 22)
        self.assertEqual(err["ResourceType"], "BATCH_JOB")
        self.assertError("ResourceNotFoundException", VID.describe_fraudster_registration_job, DomainId=dom, JobId="J" * 22)
        err = self.assertError("ResourceNotFoundException", VID.evaluate_session, DomainId=dom, SessionNameOrId="contact-1")
        self.assertEqual(err["ResourceType"], "SESSION")
        # Without [voiceid.s3] the job is accepted and fails as a whole, saying why.
        job = VID.start_speaker_enrollment_job(
            DomainId=dom,
            DataAccessRoleArn="arn:aws:iam::123456789012:role/voiceid",
            InputDataConfig={"S3Uri": "s3://bucket/manifest.json"},
            OutputDataConfig={"S3Uri": "s3://bucket/out"},
        )["Job"]
        deadline = time.time() + 30
        while job["JobStatus"] in ("SUBMITTED", "IN_PROGRESS"):
            self.assertLess(time.time(), deadline, job)
            time.sleep(0.05)
            job = VID.describe_speaker_enrollment_job(DomainId=dom, JobId=job["JobId"])["Job"]
        self.assertEqual(job["JobStatus"], "FAILED")
        self.assertIn("[voiceid.s3]", job["FailureDetails"]["Message"])

    def test_throttling_is_429(self):
        # The suite's hark limits DescribeFraudsterRegistrationJob to 1 request per second.
        dom = self.new_domain("throttle")["DomainId"]
        time.sleep(1.1)
        codes = []
        # Five back-to-back requests: the first passes; one a second refills, so a loaded
        # machine may let a second through, never all of them.
        for _ in range(5):
            try:
                VID.describe_fraudster_registration_job(DomainId=dom, JobId="J" * 22)
            except ClientError as e:
                codes.append((e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]))
        self.assertEqual(codes[0], ("ResourceNotFoundException", 404))
        self.assertIn(("ThrottlingException", 429), codes)
        self.assertEqual(set(codes), {("ResourceNotFoundException", 404), ("ThrottlingException", 429)})


class Wire(VoiceIdCase):
    def test_raw_protocol_shapes(self):
        status, headers, body = sign_and_send("VoiceID.ListDomains", "{}")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"], "application/x-amz-json-1.0")
        self.assertRegex(headers["x-amzn-requestid"], r"^[0-9a-f-]{36}$")
        d = self.new_domain("raw")
        status, _, body = sign_and_send("VoiceID.DescribeDomain", json.dumps({"DomainId": d["DomainId"]}))
        self.assertIsInstance(body["Domain"]["CreatedAt"], (int, float), "epoch seconds, not strings")
        status, _, body = sign_and_send("VoiceID.DeleteSpeaker", json.dumps({"DomainId": d["DomainId"], "SpeakerId": "nobody"}))
        self.assertEqual((status, body["__type"], body["ResourceType"]), (404, "ResourceNotFoundException", "SPEAKER"))
        status, headers, body = sign_and_send("VoiceID.NoSuchOperation", "{}")
        self.assertEqual((status, body["__type"]), (400, "UnknownOperationException"))
        status, _, body = sign_and_send("VoiceID.ListDomains", "{not json")
        self.assertEqual((status, body["__type"]), (400, "ValidationException"))
        status, _, body = sign_and_send("VoiceID.DeleteDomain", json.dumps({"DomainId": d["DomainId"]}))
        self.assertEqual((status, body), (200, {}))

    def test_sigv4_failures(self):
        err = self.assertError("UnrecognizedClientException", client(key="AKIANOTAKEY000000000").list_domains, status=403)
        err = self.assertError("InvalidSignatureException", client(secret="wrong").list_domains, status=403)
        self.assertIn("signature", err["Error"]["Message"])
        old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=6)
        status, headers, body = sign_and_send("VoiceID.ListDomains", "{}", when=old)
        self.assertEqual((status, body["__type"]), (403, "InvalidSignatureException"))
        self.assertIn("Signature expired", body["Message"])
        self.assertEqual(headers["x-amzn-errortype"], "InvalidSignatureException")
        status, _, body = sign_and_send("VoiceID.ListDomains", "{}", when=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=4))
        self.assertEqual(status, 200, body)
        conn = http.client.HTTPConnection(ENDPOINT.split("://", 1)[1], timeout=30)
        conn.request("POST", "/", body="{}", headers={"X-Amz-Target": "VoiceID.ListDomains", "Content-Type": "application/x-amz-json-1.0"})
        resp = conn.getresponse()
        self.assertEqual((resp.status, json.loads(resp.read())["__type"]), (403, "MissingAuthenticationTokenException"))

    def test_instance_association(self):
        a = self.new_domain("inst-a")["DomainId"]
        b = self.new_domain("inst-b")["DomainId"]
        ok = lambda t, body: sign_and_send("HarkVoiceID." + t, json.dumps(body))
        self.assertEqual(ok("AssociateInstance", {"InstanceId": "connect-1", "DomainId": a})[0], 200)
        self.assertEqual(ok("AssociateInstance", {"InstanceId": "connect-2", "DomainId": a})[0], 200)
        status, _, body = ok("AssociateInstance", {"InstanceId": "connect-1", "DomainId": b})
        self.assertEqual((status, body["__type"]), (409, "ConflictException"))
        status, _, body = ok("ListInstances", {"DomainId": a})
        self.assertEqual(sorted(i["InstanceId"] for i in body["Instances"]), ["connect-1", "connect-2"])
        self.assertEqual(ok("DescribeInstance", {"InstanceId": "connect-1"})[2]["DomainId"], a)
        self.assertEqual(ok("DisassociateInstance", {"InstanceId": "connect-1"})[0], 200)
        self.assertEqual(ok("AssociateInstance", {"InstanceId": "connect-1", "DomainId": b})[0], 200)
        ok("DisassociateInstance", {"InstanceId": "connect-1"})
        ok("DisassociateInstance", {"InstanceId": "connect-2"})


class AwsCli(VoiceIdCase):
    def test_list_domains_with_the_aws_cli(self):
        d = self.new_domain("cli")
        env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        out = subprocess.run(
            [sys.executable, "-m", "awscli", "voice-id", "list-domains", "--endpoint-url", ENDPOINT, "--max-results", "5"],
            capture_output=True, text=True, env=env, timeout=120,
        )
        self.assertEqual(out.returncode, 0, out.stderr)
        ids = [s["DomainId"] for s in json.loads(out.stdout)["DomainSummaries"]]
        self.assertIn(d["DomainId"], ids)
        out = subprocess.run(
            [sys.executable, "-m", "awscli", "voice-id", "describe-domain", "--domain-id", "N" * 22, "--endpoint-url", ENDPOINT],
            capture_output=True, text=True, env=env, timeout=120,
        )
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("ResourceNotFoundException", out.stderr)


class ZzPhase1Setup(VoiceIdCase):
    def test_zz_prepare_phase_two(self):
        """A domain under a key that phase 2 removes from the keyring (as a revoked KMS key)."""
        d = VID.create_domain(Name="revoked", ServerSideEncryptionConfiguration={"KmsKeyId": "alias/revocable"})["Domain"]
        VID.opt_out_speaker(DomainId=d["DomainId"], SpeakerId="survivor")
        with open(os.path.join(WORK_DIR, "phase2.json"), "w") as f:
            json.dump({"revoked": d["DomainId"]}, f)


if __name__ == "__main__":
    unittest.main()
