"""After a restart without `alias/revocable` in the keyring: data persisted, and a domain whose key
is gone is SUSPENDED and answers AccessDeniedException, as AWS does for a revoked KMS key."""

import json
import os
import unittest

from test_voiceid import VID, WORK_DIR, VoiceIdCase


class AfterRestart(VoiceIdCase):
    def test_revoked_key_is_access_denied_and_data_survived(self):
        with open(os.path.join(WORK_DIR, "phase2.json")) as f:
            dom = json.load(f)["revoked"]
        d = VID.describe_domain(DomainId=dom)["Domain"]
        self.assertEqual(d["DomainStatus"], "SUSPENDED")
        self.assertError("AccessDeniedException", VID.describe_speaker, DomainId=dom, SpeakerId="survivor", status=403)
        self.assertError("AccessDeniedException", VID.list_speakers, DomainId=dom)
        VID.delete_domain(DomainId=dom)


if __name__ == "__main__":
    unittest.main()
