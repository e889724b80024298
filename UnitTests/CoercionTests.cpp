// Unit tests of the released copy's coercion: identity written, sender's values recorded, charset.
#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "IsolatedInstance.h"
#include "Reconcile/Coercion.h"
#include "Upload/Isolation.h"

#include <DicomParsing/ParsedDicomFile.h>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvrobow.h>

#include <gtest/gtest.h>

#include <stdexcept>

using namespace Inbound;
using InboundTests::GetRaw;
using InboundTests::IsolatedInstance;

namespace
{
  const char* const kNow = "20270101101010.000001+0000";

  CoercedIdentity Hospital()
  {
    CoercedIdentity identity;
    identity.patientId = "H-1";
    identity.issuer = "HOSPITAL-X";
    identity.name = "Doe^Jane";
    identity.birthDate = "19700130";
    identity.sex = "O";
    identity.accessionNumber = "A-17";
    return identity;
  }

  // The file after the release: coerced, written and read back as the PACS would.
  std::unique_ptr<DcmFileFormat> Coerce(const IsolatedInstance& instance,
                                        const CoercedIdentity& identity,
                                        const CoercedUids& uids = CoercedUids())
  {
    Orthanc::ParsedDicomFile parsed(instance.Make());
    Coercion::Apply(*parsed.GetDcmtkObject().getDataset(), identity, uids, instance.uploadId,
                    kNow);
    std::string bytes;
    parsed.SaveToMemoryBuffer(bytes);
    return InboundTests::ParseDicom(bytes);
  }

  DcmItem& Item(DcmItem& parent, const DcmTagKey& sequence, unsigned long index)
  {
    DcmItem* item = nullptr;
    EXPECT_TRUE(parent.findAndGetSequenceItem(sequence, item, static_cast<int>(index)).good());
    if (item == nullptr)
    {
      throw std::runtime_error("no such item");
    }
    return *item;
  }

  unsigned long Count(DcmItem& parent, const DcmTagKey& sequence)
  {
    DcmSequenceOfItems* s = nullptr;
    return parent.findAndGetSequence(sequence, s).good() && s != nullptr ? s->card() : 0;
  }

  bool Has(DcmItem& item, const DcmTagKey& tag)
  {
    return item.tagExists(tag, OFFalse);
  }
}

TEST(Coercion, WritesTheHospitalsIdentityAndAppendsTheSendersValues)
{
  IsolatedInstance instance;
  instance.senderIssuer = "CLINIC-A";
  instance.senderQualifiers = true;
  instance.earlierItem = true;
  instance.otherPatientIds = true;
  std::unique_ptr<DcmFileFormat> file = Coerce(instance, Hospital());
  DcmDataset& d = *file->getDataset();

  EXPECT_EQ("H-1", GetRaw(d, DCM_PatientID));
  EXPECT_EQ("HOSPITAL-X", GetRaw(d, DCM_IssuerOfPatientID));
  EXPECT_FALSE(Has(d, DCM_IssuerOfPatientIDQualifiersSequence));
  EXPECT_EQ("Doe^Jane", GetRaw(d, DCM_PatientName));
  EXPECT_EQ("19700130", GetRaw(d, DCM_PatientBirthDate));
  EXPECT_EQ("O", GetRaw(d, DCM_PatientSex));
  EXPECT_EQ("A-17", GetRaw(d, DCM_AccessionNumber));
  EXPECT_EQ("", GetRaw(d, DCM_SpecificCharacterSet));  // ASCII: nothing converted
  EXPECT_EQ("1.2.3.4", GetRaw(d, DCM_StudyInstanceUID));
  EXPECT_EQ("1.2.3.4.5.6", GetRaw(d, DCM_SOPInstanceUID));

  // The sender's item, the isolation's, then the release's.
  ASSERT_EQ(3u, Count(d, DCM_OriginalAttributesSequence));
  DcmItem& earlier = Item(d, DCM_OriginalAttributesSequence, 0);
  EXPECT_EQ("SOME-PACS", GetRaw(earlier, DCM_ModifyingSystem));
  EXPECT_EQ("EARLIER-ID", GetRaw(Item(earlier, DCM_ModifiedAttributesSequence, 0), DCM_PatientID));
  DcmItem& isolation = Item(d, DCM_OriginalAttributesSequence, 1);
  EXPECT_EQ("ORTHANC-INBOUND", GetRaw(isolation, DCM_ModifyingSystem));
  EXPECT_EQ("P-1", GetRaw(Item(isolation, DCM_ModifiedAttributesSequence, 0), DCM_PatientID));

  DcmItem& release = Item(d, DCM_OriginalAttributesSequence, 2);
  EXPECT_EQ("ORTHANC-INBOUND", GetRaw(release, DCM_ModifyingSystem));
  EXPECT_EQ("COERCE", GetRaw(release, DCM_ReasonForTheAttributeModification));
  EXPECT_EQ("Sender Hospital", GetRaw(release, DCM_SourceOfPreviousValues));
  EXPECT_EQ(kNow, GetRaw(release, DCM_AttributeModificationDateTime));
  ASSERT_EQ(1u, Count(release, DCM_ModifiedAttributesSequence));
  DcmItem& sent = Item(release, DCM_ModifiedAttributesSequence, 0);
  EXPECT_EQ("P-1", GetRaw(sent, DCM_PatientID));  // as sent, not the isolated one
  EXPECT_EQ("CLINIC-A", GetRaw(sent, DCM_IssuerOfPatientID));
  EXPECT_EQ("2.999.1", GetRaw(Item(sent, DCM_IssuerOfPatientIDQualifiersSequence, 0),
                              DCM_UniversalEntityID));
  EXPECT_EQ("DOE^JANE", GetRaw(sent, DCM_PatientName));
  EXPECT_EQ("19700131", GetRaw(sent, DCM_PatientBirthDate));
  EXPECT_EQ("F", GetRaw(sent, DCM_PatientSex));
  EXPECT_EQ("ACC-1", GetRaw(sent, DCM_AccessionNumber));

  // The sender's own other ID kept, the sender's PatientID added with its issuer.
  ASSERT_EQ(2u, Count(d, DCM_OtherPatientIDsSequence));
  EXPECT_EQ("EXT-555", GetRaw(Item(d, DCM_OtherPatientIDsSequence, 0), DCM_PatientID));
  DcmItem& other = Item(d, DCM_OtherPatientIDsSequence, 1);
  EXPECT_EQ("P-1", GetRaw(other, DCM_PatientID));
  EXPECT_EQ("CLINIC-A", GetRaw(other, DCM_IssuerOfPatientID));
  EXPECT_TRUE(Has(other, DCM_IssuerOfPatientIDQualifiersSequence));
  EXPECT_EQ("TEXT", GetRaw(other, DCM_TypeOfPatientID));

  // Pixel data untouched.
  std::unique_ptr<DcmFileFormat> stored = InboundTests::ParseDicom(instance.Make());
  EXPECT_EQ(InboundTests::GetPixels(*stored->getDataset()), InboundTests::GetPixels(d));
  EXPECT_EQ(64u, InboundTests::GetPixels(d).size());
}

TEST(Coercion, ALatin1FileBecomesUtf8ToHoldAHospitalNameItCannotEncode)
{
  IsolatedInstance instance;
  instance.charset = "ISO_IR 100";
  instance.senderPatientId = "K\xd6HLER-100";        // KÖHLER-100 in Latin-1
  instance.name = "M\xdcLLER^J\xdcRGEN";              // MÜLLER^JÜRGEN
  instance.studyDescription = "Sch\xe4" "del nativ";  // Schädel nativ
  CoercedIdentity identity = Hospital();
  identity.name = "\xc5\x81ukasiewicz^Zo\xc3\xab";    // Łukasiewicz^Zoë in UTF-8
  std::unique_ptr<DcmFileFormat> file = Coerce(instance, identity);
  DcmDataset& d = *file->getDataset();

  EXPECT_EQ("ISO_IR 192", GetRaw(d, DCM_SpecificCharacterSet));
  EXPECT_EQ("\xc5\x81ukasiewicz^Zo\xc3\xab", GetRaw(d, DCM_PatientName));  // Ł intact
  EXPECT_EQ("Sch\xc3\xa4" "del nativ", GetRaw(d, DCM_StudyDescription));   // transcoded
  DcmItem& release = Item(d, DCM_OriginalAttributesSequence, 1);
  DcmItem& sent = Item(release, DCM_ModifiedAttributesSequence, 0);
  EXPECT_EQ("M\xc3\x9cLLER^J\xc3\x9cRGEN", GetRaw(sent, DCM_PatientName));
  EXPECT_EQ("K\xc3\x96HLER-100", GetRaw(sent, DCM_PatientID));
  // The isolation's record is transcoded with the rest: the same characters.
  EXPECT_EQ("K\xc3\x96HLER-100", GetRaw(Item(Item(d, DCM_OriginalAttributesSequence, 0),
                                            DCM_ModifiedAttributesSequence, 0),
                                       DCM_PatientID));
  EXPECT_EQ("K\xc3\x96HLER-100", GetRaw(Item(d, DCM_OtherPatientIDsSequence, 0), DCM_PatientID));

  std::unique_ptr<DcmFileFormat> stored = InboundTests::ParseDicom(instance.Make());
  EXPECT_EQ(InboundTests::GetPixels(*stored->getDataset()), InboundTests::GetPixels(d));

  // An ASCII identity leaves the Latin-1 file in Latin-1.
  std::unique_ptr<DcmFileFormat> ascii = Coerce(instance, Hospital());
  EXPECT_EQ("ISO_IR 100", GetRaw(*ascii->getDataset(), DCM_SpecificCharacterSet));
  EXPECT_EQ("Sch\xe4" "del nativ", GetRaw(*ascii->getDataset(), DCM_StudyDescription));

  // A file that declares no character set at all gets ISO_IR 192 declared.
  IsolatedInstance plain;
  std::unique_ptr<DcmFileFormat> declared = Coerce(plain, identity);
  EXPECT_EQ("ISO_IR 192", GetRaw(*declared->getDataset(), DCM_SpecificCharacterSet));
  EXPECT_EQ("\xc5\x81ukasiewicz^Zo\xc3\xab", GetRaw(*declared->getDataset(), DCM_PatientName));
}

TEST(Coercion, OnlyWhatTheReleaseGivesIsWrittenAndRecorded)
{
  IsolatedInstance instance;  // no sender issuer
  CoercedIdentity identity;
  identity.patientId = "H-2";
  identity.name = "DOE^JANE";  // as stored: written, but not a change to record
  std::unique_ptr<DcmFileFormat> file = Coerce(instance, identity);
  DcmDataset& d = *file->getDataset();
  EXPECT_EQ("H-2", GetRaw(d, DCM_PatientID));
  EXPECT_FALSE(Has(d, DCM_IssuerOfPatientID));  // "" removes the isolation's issuer
  EXPECT_EQ("19700131", GetRaw(d, DCM_PatientBirthDate));
  EXPECT_EQ("F", GetRaw(d, DCM_PatientSex));
  EXPECT_EQ("ACC-1", GetRaw(d, DCM_AccessionNumber));
  DcmItem& sent = Item(Item(d, DCM_OriginalAttributesSequence, 1),
                       DCM_ModifiedAttributesSequence, 0);
  EXPECT_TRUE(Has(sent, DCM_PatientID));
  EXPECT_TRUE(Has(sent, DCM_IssuerOfPatientID));  // absent as sent: zero length
  EXPECT_EQ("", GetRaw(sent, DCM_IssuerOfPatientID));
  for (const DcmTagKey& tag : {DCM_PatientName, DCM_PatientBirthDate, DCM_PatientSex,
                               DCM_AccessionNumber, DCM_IssuerOfPatientIDQualifiersSequence})
  {
    EXPECT_FALSE(Has(sent, tag)) << tag.toString();
  }
  // No issuer sent: the upload names where the sender's PatientID came from.
  ASSERT_EQ(1u, Count(d, DCM_OtherPatientIDsSequence));
  DcmItem& other = Item(d, DCM_OtherPatientIDsSequence, 0);
  EXPECT_EQ("ORTHANC-INBOUND " + instance.uploadId, GetRaw(other, DCM_IssuerOfPatientID));

  // A sender without PatientID adds no other ID, but its absence is recorded.
  instance.senderPatientId = "";
  std::unique_ptr<DcmFileFormat> none = Coerce(instance, identity);
  EXPECT_EQ(0u, Count(*none->getDataset(), DCM_OtherPatientIDsSequence));
  EXPECT_TRUE(Has(Item(Item(*none->getDataset(), DCM_OriginalAttributesSequence, 1),
                       DCM_ModifiedAttributesSequence, 0), DCM_PatientID));
}

TEST(Coercion, ASendersClaimInTheHospitalsOwnIssuerIsNoOtherIdOfThePatient)
{
  // Red team: a CD naming PatientID P-1 of the hospital's own issuer, released as H-1, must not
  // tell the PACS that H-1 is also the hospital's P-1; its claim stays in the release's record.
  IsolatedInstance instance;
  instance.senderQualifiers = true;
  for (const char* issuer : {"HOSPITAL-X", "hospital-x ", "Hospital-Y"})
  {
    instance.senderIssuer = issuer;
    CoercedIdentity identity = Hospital();  // issuer HOSPITAL-X
    identity.hospitalIssuer = "HOSPITAL-Y";  // Reconciliation.IssuerOfPatientID
    std::unique_ptr<DcmFileFormat> file = Coerce(instance, identity);
    DcmDataset& d = *file->getDataset();
    ASSERT_EQ(1u, Count(d, DCM_OtherPatientIDsSequence)) << issuer;
    DcmItem& other = Item(d, DCM_OtherPatientIDsSequence, 0);
    EXPECT_EQ("P-1", GetRaw(other, DCM_PatientID));
    EXPECT_EQ("ORTHANC-INBOUND " + instance.uploadId, GetRaw(other, DCM_IssuerOfPatientID));
    EXPECT_FALSE(Has(other, DCM_IssuerOfPatientIDQualifiersSequence));
    DcmItem& sent = Item(Item(d, DCM_OriginalAttributesSequence, 1),
                         DCM_ModifiedAttributesSequence, 0);
    // The claim, recorded as sent (less its padding).
    EXPECT_EQ(std::string(issuer).substr(0, 10), GetRaw(sent, DCM_IssuerOfPatientID));
  }
  // Another issuer is passed on as it came; the released issuer removed ("") matches nothing.
  instance.senderIssuer = "CLINIC-A";
  CoercedIdentity identity = Hospital();
  identity.issuer = "";
  std::unique_ptr<DcmFileFormat> file = Coerce(instance, identity);
  EXPECT_EQ("CLINIC-A", GetRaw(Item(*file->getDataset(), DCM_OtherPatientIDsSequence, 0),
                               DCM_IssuerOfPatientID));
}

TEST(Coercion, NewUidsAreWrittenIntoTheFileAndItsMetaHeader)
{
  CoercedUids uids;
  uids.study = "2.25.1";
  uids.series = "2.25.1.2";
  uids.instance = "2.25.1.2.3";
  std::unique_ptr<DcmFileFormat> file = Coerce(IsolatedInstance(), Hospital(), uids);
  EXPECT_EQ("2.25.1", GetRaw(*file->getDataset(), DCM_StudyInstanceUID));
  EXPECT_EQ("2.25.1.2", GetRaw(*file->getDataset(), DCM_SeriesInstanceUID));
  EXPECT_EQ("2.25.1.2.3", GetRaw(*file->getDataset(), DCM_SOPInstanceUID));
  OFString meta;
  ASSERT_TRUE(file->getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPInstanceUID, meta).good());
  EXPECT_EQ("2.25.1.2.3", std::string(meta.c_str()));
}

TEST(Coercion, RefusesWhatItCannotWriteFaithfully)
{
  // Not the isolated copy of this upload.
  IsolatedInstance instance;
  Orthanc::ParsedDicomFile parsed(instance.Make());
  DcmDataset& d = *parsed.GetDcmtkObject().getDataset();
  EXPECT_THROW(Coercion::Apply(d, Hospital(), CoercedUids(), "OTHERUPLOAD1", kNow),
               std::runtime_error);
  EXPECT_EQ("INB-ABCDEFGHJKLM-1", GetRaw(d, DCM_PatientID));

  // An identity DICOM cannot hold.
  for (void (*spoil)(CoercedIdentity&) : std::vector<void (*)(CoercedIdentity&)>{
         [](CoercedIdentity& i) { i.patientId = ""; },
         [](CoercedIdentity& i) { i.patientId = std::string(65, 'H'); },
         [](CoercedIdentity& i) { i.patientId = "A\\B"; },
         [](CoercedIdentity& i) { i.issuer = "tab\there"; },
         [](CoercedIdentity& i) { i.name = "\xc3"; },
         [](CoercedIdentity& i) { i.birthDate = "1970-01-31"; },
         [](CoercedIdentity& i) { i.sex = "X"; },
         [](CoercedIdentity& i) { i.accessionNumber = "12345678901234567"; }})
  {
    CoercedIdentity identity = Hospital();
    spoil(identity);
    EXPECT_NE("", Coercion::CheckIdentity(identity));
    EXPECT_THROW(Coercion::Apply(d, identity, CoercedUids(), instance.uploadId, kNow),
                 std::runtime_error);
  }
  EXPECT_EQ(1u, Count(d, DCM_OriginalAttributesSequence));
  EXPECT_EQ("", Coercion::CheckIdentity(Hospital()));

  // A character set DCMTK cannot convert from: refused rather than written wrong.
  IsolatedInstance unknown;
  unknown.charset = "ISO_IR 999";
  unknown.studyDescription = "Sch\xe4" "del";
  CoercedIdentity lukasiewicz = Hospital();
  lukasiewicz.name = "\xc5\x81ukasiewicz^Zo\xc3\xab";
  try
  {
    Coerce(unknown, lukasiewicz);
    FAIL() << "converted from an unknown character set";
  }
  catch (const std::runtime_error& e)
  {
    EXPECT_NE(std::string::npos, std::string(e.what()).find("UTF-8")) << e.what();
  }

  // Eight-bit text in a file that declares no character set (ASCII): its letters are not
  // known, so the file is not converted rather than guessed.
  IsolatedInstance undeclared;
  undeclared.studyDescription = "Sch\xe4" "del";
  EXPECT_THROW(Coerce(undeclared, lukasiewicz), std::runtime_error);
  EXPECT_NO_THROW(Coerce(undeclared, Hospital()));  // an ASCII identity needs no conversion

  // An OtherPatientIDsSequence that is no sequence: nothing appended anywhere.
  Orthanc::ParsedDicomFile odd(instance.Make());
  DcmDataset& o = *odd.GetDcmtkObject().getDataset();
  ASSERT_TRUE(o.insert(new DcmOtherByteOtherWord(DcmTag(DCM_OtherPatientIDsSequence, EVR_UN)),
                       OFTrue).good());
  EXPECT_THROW(Coercion::Apply(o, Hospital(), CoercedUids(), instance.uploadId, kNow),
               std::runtime_error);
  EXPECT_EQ(1u, Count(o, DCM_OriginalAttributesSequence));
  EXPECT_EQ("INB-ABCDEFGHJKLM-1", GetRaw(o, DCM_PatientID));

  // No record of the isolation: the sender's values are unknown, nothing is written.
  Orthanc::ParsedDicomFile bare(instance.Make());
  DcmDataset& b = *bare.GetDcmtkObject().getDataset();
  b.findAndDeleteElement(DCM_OriginalAttributesSequence);
  EXPECT_THROW(Coercion::Apply(b, Hospital(), CoercedUids(), instance.uploadId, kNow),
               std::runtime_error);
  EXPECT_EQ("INB-ABCDEFGHJKLM-1", GetRaw(b, DCM_PatientID));
}
