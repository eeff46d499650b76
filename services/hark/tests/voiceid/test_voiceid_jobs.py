"""Voice ID batch jobs driven by boto3 against `hark serve`, with manifests, audio and output on a
real S3-compatible server (moto_server on 127.0.0.1), as an AWS user runs them.

Started by services/hark/tests/voiceid.rs, which passes HARK_* variables: the Voice ID endpoint and
keys, HARK_S3_ENDPOINT, and HARK_CORPUS (the Asterisk speech corpus: <voice>/<nn>.wav, 8 kHz mono).
"""

import io
import json
import os
import time
import unittest
import wave

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["HARK_ENDPOINT"]
S3_ENDPOINT = os.environ["HARK_S3_ENDPOINT"]
CORPUS = os.environ["HARK_CORPUS"]
BUCKET = "voiceid-batch"
ROLE = "arn:aws:iam::123456789012:role/voiceid-batch"

VID = boto3.client(
    "voice-id",
    endpoint_url=ENDPOINT,
    region_name="us-east-1",
    aws_access_key_id=os.environ["HARK_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["HARK_SECRET_ACCESS_KEY"],
    config=Config(retries={"max_attempts": 1}),
)
S3 = boto3.client(
    "s3",
    endpoint_url=S3_ENDPOINT,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
)


def speech(voice, first, last):
    """Utterances first..last of a corpus voice: raw 16-bit samples at 8 kHz."""
    frames = b""
    for n in range(first, last + 1):
        with wave.open(os.path.join(CORPUS, voice, "%02d.wav" % n)) as w:
            frames += w.readframes(w.getnframes())
    return frames


def wav_bytes(frames, channels=1):
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames)
    return out.getvalue()


def right_channel_only(frames):
    """Stereo frames: silence left, `frames` right (the agent side of a call recording)."""
    out = bytearray()
    for i in range(0, len(frames), 2):
        out += b"\x00\x00" + frames[i : i + 2]
    return bytes(out)


def put(key, body):
    S3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return "s3://%s/%s" % (BUCKET, key)


def audio(uri, channel=0):
    return {"S3Uri": uri, "ChannelId": channel}


class BatchJobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        S3.create_bucket(Bucket=BUCKET)
        cls.dom = VID.create_domain(
            Name="batch", ServerSideEncryptionConfiguration={"KmsKeyId": "alias/hark-default"}
        )["Domain"]["DomainId"]
        cls.a1 = put("audio/a1.wav", wav_bytes(speech("allison_en", 0, 5)))
        cls.a2 = put("audio/a2.wav", wav_bytes(speech("allison_en", 6, 11)))
        cls.c_stereo = put("audio/c-stereo.wav", wav_bytes(right_channel_only(speech("june_frca", 0, 11)), 2))
        cls.short = put("audio/short.wav", wav_bytes(speech("allison_en", 12, 12)))
        cls.garbage = put("audio/garbage.wav", b"RIFF-not-really-audio" * 100)
        cls.b1 = put("audio/b1.wav", wav_bytes(speech("carlo_it", 0, 5)))
        cls.b2 = put("audio/b2.wav", wav_bytes(speech("carlo_it", 6, 11)))
        cls.b_long = put("audio/b-long.wav", wav_bytes(speech("carlo_it", 12, 23)))

    def run_job(self, kind, requests, name, **config):
        key = "manifests/%s.json" % name
        list_name = "SpeakerEnrollmentRequests" if kind == "enrol" else "FraudsterRegistrationRequests"
        put(key, json.dumps({"Version": "1.0", list_name: requests}))
        args = dict(
            DomainId=self.dom,
            JobName=name,
            DataAccessRoleArn=ROLE,
            InputDataConfig={"S3Uri": "s3://%s/%s" % (BUCKET, key)},
            OutputDataConfig={"S3Uri": "s3://%s/output/" % BUCKET},
            **config,
        )
        if kind == "enrol":
            job = VID.start_speaker_enrollment_job(**args)["Job"]
            describe = VID.describe_speaker_enrollment_job
        else:
            job = VID.start_fraudster_registration_job(**args)["Job"]
            describe = VID.describe_fraudster_registration_job
        self.assertEqual(job["JobStatus"], "SUBMITTED")
        deadline = time.time() + 120
        while job["JobStatus"] in ("SUBMITTED", "IN_PROGRESS"):
            self.assertLess(time.time(), deadline, job)
            time.sleep(0.1)
            job = describe(DomainId=self.dom, JobId=job["JobId"])["Job"]
        out = None
        if job["JobStatus"] != "FAILED":
            body = S3.get_object(Bucket=BUCKET, Key="output/%s/%s.json.out" % (job["JobId"], name))["Body"]
            out = json.loads(body.read())
        return job, out

    def test_1_enrollment_job_enrolls_skips_and_reports_per_request_errors(self):
        job, out = self.run_job(
            "enrol",
            [
                {"RequestId": "a", "SpeakerId": "cust-a", "AudioSpecifications": [audio(self.a1), audio(self.a2)]},
                {"RequestId": "c", "SpeakerId": "cust-c", "AudioSpecifications": [audio(self.c_stereo, 1)]},
                {"RequestId": "short", "SpeakerId": "cust-s", "AudioSpecifications": [audio(self.short)]},
                {"RequestId": "garbage", "SpeakerId": "cust-g", "AudioSpecifications": [audio(self.garbage)]},
                {"RequestId": "missing", "SpeakerId": "cust-m", "AudioSpecifications": [audio("s3://%s/nope.wav" % BUCKET)]},
                {"RequestId": "mono-ch1", "SpeakerId": "cust-x", "AudioSpecifications": [audio(self.a1, 1)]},
            ],
            "enrol-1",
        )
        self.assertEqual(job["JobStatus"], "COMPLETED_WITH_ERRORS", job)
        self.assertEqual(job["JobProgress"]["PercentComplete"], 100)
        self.assertIn("EndedAt", job)
        self.assertEqual(job["EnrollmentConfig"]["ExistingEnrollmentAction"], "SKIP")
        self.assertEqual(job["EnrollmentConfig"]["FraudDetectionConfig"]["FraudDetectionAction"], "FAIL")
        ok = {e["RequestId"]: e for e in out["SuccessfulEnrollments"]}
        self.assertEqual(sorted(ok), ["a", "c"])
        self.assertEqual(ok["a"]["EnrollmentStatus"], "NEW_ENROLLMENT")
        self.assertEqual(ok["a"]["CustomerSpeakerId"], "cust-a")
        self.assertRegex(ok["a"]["GeneratedSpeakerId"], r"^id#[a-zA-Z0-9]{22}$")
        errors = {e["RequestId"]: e for e in out["Errors"]}
        self.assertEqual(sorted(errors), ["garbage", "missing", "mono-ch1", "short"])
        self.assertTrue(all(e["ErrorCode"] == 400 for e in errors.values()), errors)
        self.assertIn("Not enough speech", errors["short"]["ErrorMessage"])
        # It says how much is missing, never "30.0 s of … 30 s needed".
        self.assertRegex(errors["short"]["ErrorMessage"], r"30 s are needed, \d+\.\d\d s more")
        self.assertIn("not audio", errors["garbage"]["ErrorMessage"])
        self.assertIn("cannot read", errors["missing"]["ErrorMessage"])
        self.assertIn("ChannelId 1 does not exist", errors["mono-ch1"]["ErrorMessage"])
        speaker = VID.describe_speaker(DomainId=self.dom, SpeakerId="cust-a")["Speaker"]
        self.assertEqual(speaker["Status"], "ENROLLED")
        self.assertEqual(speaker["GeneratedSpeakerId"], ok["a"]["GeneratedSpeakerId"])

        # SKIP (the default) leaves an enrolled speaker; OVERWRITE re-enrolls it.
        _, out = self.run_job("enrol", [{"RequestId": "a", "SpeakerId": "cust-a", "AudioSpecifications": [audio(self.a1)]}], "enrol-2")
        self.assertEqual(out["SuccessfulEnrollments"][0]["EnrollmentStatus"], "DUPLICATE_SKIPPED")
        job, out = self.run_job(
            "enrol",
            [{"RequestId": "a", "SpeakerId": "cust-a", "AudioSpecifications": [audio(self.a1), audio(self.a2)]}],
            "enrol-3",
            EnrollmentConfig={"ExistingEnrollmentAction": "OVERWRITE"},
        )
        self.assertEqual(job["JobStatus"], "COMPLETED")
        self.assertEqual(out["SuccessfulEnrollments"][0]["EnrollmentStatus"], "ENROLLMENT_OVERWRITE")

        # Listing, with and without a status filter.
        jobs = VID.list_speaker_enrollment_jobs(DomainId=self.dom)["JobSummaries"]
        self.assertEqual(sorted(j["JobName"] for j in jobs), ["enrol-1", "enrol-2", "enrol-3"])
        self.assertNotIn("EnrollmentConfig", jobs[0])
        done = VID.list_speaker_enrollment_jobs(DomainId=self.dom, JobStatus="COMPLETED")["JobSummaries"]
        self.assertEqual(sorted(j["JobName"] for j in done), ["enrol-2", "enrol-3"])

    def test_2_registration_finds_duplicates_and_enrollment_screens_fraudsters(self):
        job, out = self.run_job(
            "register", [{"RequestId": "b", "AudioSpecifications": [audio(self.b1), audio(self.b2)]}], "fraud-1"
        )
        self.assertEqual(job["JobStatus"], "COMPLETED", job)
        self.assertEqual(job["RegistrationConfig"]["DuplicateRegistrationAction"], "SKIP")
        first = out["SuccessfulRegistrations"][0]
        self.assertEqual(first["RegistrationStatus"], "NEW_REGISTRATION")
        fraudster = VID.describe_fraudster(DomainId=self.dom, FraudsterId=first["GeneratedFraudsterId"])["Fraudster"]
        default = VID.describe_domain(DomainId=self.dom)["Domain"]["WatchlistDetails"]["DefaultWatchlistId"]
        self.assertEqual(fraudster["WatchlistIds"], [default])

        # The same voice again: a duplicate, unless registered as new.
        _, out = self.run_job("register", [{"RequestId": "b2", "AudioSpecifications": [audio(self.b_long)]}], "fraud-2")
        dup = out["SuccessfulRegistrations"][0]
        self.assertEqual(dup["RegistrationStatus"], "DUPLICATE_SKIPPED", out)
        self.assertEqual(dup["GeneratedFraudsterId"], first["GeneratedFraudsterId"])
        self.assertGreaterEqual(dup["FraudsterSimilarityScore"], 90)
        _, out = self.run_job(
            "register",
            [{"RequestId": "b3", "AudioSpecifications": [audio(self.b_long)]}],
            "fraud-3",
            RegistrationConfig={"DuplicateRegistrationAction": "REGISTER_AS_NEW"},
        )
        self.assertEqual(out["SuccessfulRegistrations"][0]["RegistrationStatus"], "NEW_REGISTRATION")
        self.assertEqual(len(VID.list_fraudster_registration_jobs(DomainId=self.dom)["JobSummaries"]), 3)

        # Enrolling the fraudster's voice as a customer: refused (FAIL), or done (IGNORE).
        request = [{"RequestId": "b", "SpeakerId": "cust-b", "AudioSpecifications": [audio(self.b1), audio(self.b2), audio(self.b_long)]}]
        _, out = self.run_job("enrol", request, "enrol-fraud")
        self.assertEqual(out["Errors"][0]["ErrorCode"], 400)
        self.assertIn("fraud verification checks failed", out["Errors"][0]["ErrorMessage"])
        _, out = self.run_job(
            "enrol", request, "enrol-ignore", EnrollmentConfig={"FraudDetectionConfig": {"FraudDetectionAction": "IGNORE"}}
        )
        self.assertEqual(out["SuccessfulEnrollments"][0]["EnrollmentStatus"], "NEW_ENROLLMENT")

        # An opted-out speaker is refused with 409.
        VID.opt_out_speaker(DomainId=self.dom, SpeakerId="cust-o")
        _, out = self.run_job("enrol", [{"RequestId": "o", "SpeakerId": "cust-o", "AudioSpecifications": [audio(self.a1)]}], "enrol-opted")
        self.assertEqual(out["Errors"][0]["ErrorCode"], 409)

    def test_3_whole_job_failures_and_request_errors(self):
        bad = put("manifests/broken.json", b"{ not json")
        job = VID.start_speaker_enrollment_job(
            DomainId=self.dom, DataAccessRoleArn=ROLE, InputDataConfig={"S3Uri": bad},
            OutputDataConfig={"S3Uri": "s3://%s/output" % BUCKET}, ClientToken="tok-broken",
        )["Job"]
        again = VID.start_speaker_enrollment_job(
            DomainId=self.dom, DataAccessRoleArn=ROLE, InputDataConfig={"S3Uri": bad},
            OutputDataConfig={"S3Uri": "s3://%s/output" % BUCKET}, ClientToken="tok-broken",
        )["Job"]
        self.assertEqual(job["JobId"], again["JobId"], "same ClientToken, same job")
        deadline = time.time() + 30
        while job["JobStatus"] in ("SUBMITTED", "IN_PROGRESS"):
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
            job = VID.describe_speaker_enrollment_job(DomainId=self.dom, JobId=job["JobId"])["Job"]
        self.assertEqual(job["JobStatus"], "FAILED")
        self.assertEqual(job["FailureDetails"]["StatusCode"], 400)
        self.assertIn("not valid JSON", job["FailureDetails"]["Message"])

        with self.assertRaises(ClientError) as e:
            VID.start_speaker_enrollment_job(
                DomainId=self.dom, DataAccessRoleArn=ROLE, InputDataConfig={"S3Uri": bad},
                OutputDataConfig={"S3Uri": "s3://%s/output" % BUCKET, "KmsKeyId": "alias/x"},
            )
        self.assertEqual(e.exception.response["Error"]["Code"], "ValidationException")
        with self.assertRaises(ClientError) as e:
            VID.describe_fraudster_registration_job(DomainId=self.dom, JobId=job["JobId"])
        self.assertEqual(e.exception.response["Error"]["Code"], "ResourceNotFoundException", "an enrollment job is not a registration job")


if __name__ == "__main__":
    unittest.main()
