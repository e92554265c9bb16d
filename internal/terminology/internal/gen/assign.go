package main

// This file holds carnet's editorial choices: the class of each document type, the space of the
// patient's record it is filed in, and the kind of each author profession. The national value
// sets give codes and labels only; everything here is ours and is what a reviewer should read.

// Class codes of TRE_A03-ClasseDocument (OID 1.2.250.1.213.1.1.4.1), labels as in its version
// 20231215120000. That version also has 99 "Document technique" (valid from 2023-07-28); carnet
// keeps the 11 classes of DOMAIN.md and files technical documents under 95 (see FEUILLE-DE-STYLE).
var classes = []struct{ code, label string }{
	{"10", "Compte rendu"},
	{"11", "Synthèse"},
	{"31", "Imagerie médicale"},
	{"42", "Prescription"},
	{"43", "Dispensation"},
	{"44", "Plan de soins, protocole de soins"},
	{"45", "Traitement administré"},
	{"52", "Certificat, déclaration"},
	{"60", "Données de remboursement"},
	{"90", "Autres documents déposés par le patient"},
	{"95", "Document de gestion"},
}

// x04 is the national correspondence typeCode → classCode, ASS_X04-CorrespondanceType-Classe-CISIS
// (OID 1.2.250.1.213.1.1.4.249, version 20230331120000), restricted to the codes of J07. The
// national record derives classCode from typeCode with this table, so where it has an answer we
// take it, even where the nature of the document suggests otherwise (11369-6 → 52, DOCPAT01 → 11).
var x04 = map[string]string{
	// LOINC (2.16.840.1.113883.6.1)
	"11369-6": "52", "11488-4": "10", "11490-0": "10", "11502-2": "10", "11505-5": "10",
	"11506-3": "10", "15507-7": "10", "15508-5": "10", "18748-4": "31", "18761-7": "11",
	"18776-5": "44", "29274-8": "10", "34112-3": "10", "34133-9": "11", "34749-2": "10",
	"34794-8": "10", "34842-5": "11", "34874-8": "10", "34875-5": "10", "47420-5": "10",
	"51969-4": "10", "52040-3": "31", "55115-0": "42", "56445-0": "11", "57828-6": "42",
	"57832-8": "42", "57833-6": "42", "59283-2": "10", "60591-5": "11", "60593-1": "43",
	"61357-0": "42", "67851-6": "10", "68599-0": "11", "68817-6": "11", "70004-7": "10",
	"74207-2": "11", "74465-6": "90", "75468-9": "42", "75482-0": "10", "75492-9": "10",
	"75496-0": "10", "77436-4": "10", "77604-7": "44", "78513-9": "10", "78601-2": "10",
	"80565-5": "45", "80771-9": "44", "80788-3": "44", "80820-4": "11", "83836-7": "11",
	"83901-9": "11", "83981-1": "10", "85208-7": "10", "86531-1": "95", "87273-9": "52",
	"88348-8": "11", "89601-9": "52", "93024-8": "10", "96349-6": "10", "96874-3": "52",
	"96173-0": "52",
	// TRE_A05-TypeDocComplementaire (1.2.250.1.213.1.1.4.12)
	"ATTEST-ASS-COMPL": "95", "ATTEST-HEBGT": "95", "ATTEST-RESID": "95", "AUTORIS-SOINS": "95",
	"BIL_AUTO": "10", "CERT_DECL": "52", "DISP_AUT": "43",
	"EXPPAT_1": "90", "EXPPAT_2": "90", "EXPPAT_3": "90",
	"DOCPAT01": "11", "DOCPAT02": "42", "DOCPAT03": "10", "DOCPAT04": "31", "DOCPAT05": "10",
	"DOCPAT06": "10", "DOCPAT07": "52", "DOCPAT08": "11", "DOCPAT09": "95",
	"IMG-KOS": "31", "PROT_ALD": "44", "REMB": "60", "SYNTH": "11", "PIECE-IDENTITE": "95",
	"PRESC-BIO": "42", "PRESC-KINE": "42", "PRESC-INF": "42", "PRESC-PEDI": "42",
	"PRESC-ORTHOPHO": "42", "PRESC-ORTHOPTIE": "42",
}

// ours gives a class to the J07 codes that ASS_X04 (version 20230331120000) does not cover:
// codes added to J07 after it. Each is chosen from the document's nature and from what X04 does
// with its nearest neighbour; the unsure ones say so in their note, which lands in the file.
var ours = map[string]struct{ class, note string }{
	"ATTEST-DROITS-AM": {"95", "like the other ATTEST-* codes in X04"},
	"PRESC-AAT":        {"42", "like the other PRESC-* codes in X04"},
	"FEUILLE-DE-STYLE": {"95", "unsure: TRE_A03 has 99 Document technique since 2023-07-28; we keep 11 classes"},
	"FICHE-CONTACTS":   {"95", "like CONTACTS-URGENCE in X04"},
	"EXPORT_DUI":       {"95", "unsure: an export of the medico-social user record; 11 Synthèse is arguable"},
	"28617-9":          {"10", "unsure: an examination report, like 47420-5 in X04; 11 is arguable"},
	"28653-4":          {"10", "unsure: generic social/medico-social document"},
	"34120-6":          {"10", "unsure: like 47420-5 CR de bilan fonctionnel in X04; 11 is arguable"},
	"51851-4":          {"95", ""},
	"56446-8":          {"95", ""},
	"59284-0":          {"95", "like AUTORIS-SOINS in X04; 52 is arguable"},
	"60280-5":          {"10", "like 15507-7 in X04"},
	"60568-3":          {"10", "like 11526-1 anatomopathologie in X04"},
	"78341-5":          {"11", "like 18761-7 and 74207-2 (transfer notes) in X04"},
	"83869-8":          {"44", ""},
	"57055-6":          {"11", ""},
	"57057-2":          {"11", ""},
	"57075-4":          {"11", ""},
	"89235-6":          {"11", ""},
	"78489-2":          {"11", ""},
	"89233-1":          {"10", ""},
	"101881-1":         {"52", "unsure: a card handed to the patient attesting an implant; 11 is arguable"},
	"E1762":            {"95", "unsure: X04 maps this generic ASTM code to a format URN, not to a class"},
}

// Spaces of the patient's record (DOMAIN.md "Documents (the DMP)"). Everything not listed in
// spaceOf is filed in "documents_sante".
const (
	spaceDocuments      = "documents_sante"
	spaceProfile        = "profil_medical"
	spaceReimbursements = "remboursements"
	spacePersonal       = "espace_personnel"
)

// spaceOf is carnet's default filing: the medical summary, the vaccination history and notes,
// treatment and care plans and medication reviews feed the medical profile; the insurer's data
// go to reimbursements; what the patient deposits goes to the personal space.
var spaceOf = map[string]struct{ space, note string }{
	"60591-5":  {spaceProfile, "VSM"},
	"SYNTH":    {spaceProfile, "medical summary: the CI-SIS example of the VSM volet (VSM_1.4_2022.01) is coded SYNTH"},
	"11369-6":  {spaceProfile, "vaccination history"},
	"87273-9":  {spaceProfile, "vaccination note"},
	"18776-5":  {spaceProfile, "PPS"},
	"77604-7":  {spaceProfile, "treatment plan"},
	"PROT_ALD": {spaceProfile, "care protocol"},
	"83869-8":  {spaceProfile, "prevention plan"},
	"80771-9":  {spaceProfile, "care plan at school or nursery"},
	"56445-0":  {spaceProfile, "medication review"},
	"80820-4":  {spaceProfile, "medication reconciliation, a medication review"},
	"REMB":     {spaceReimbursements, ""},
	"DOCPAT01": {spacePersonal, ""},
	"DOCPAT02": {spacePersonal, ""},
	"DOCPAT03": {spacePersonal, ""},
	"DOCPAT04": {spacePersonal, ""},
	"DOCPAT05": {spacePersonal, ""},
	"DOCPAT06": {spacePersonal, ""},
	"DOCPAT07": {spacePersonal, ""},
	"DOCPAT08": {spacePersonal, "the medical profile summary deposited by the patient: personal space, not the profile"},
	"DOCPAT09": {spacePersonal, ""},
	"EXPPAT_1": {spacePersonal, ""},
	"EXPPAT_2": {spacePersonal, ""},
	"EXPPAT_3": {spacePersonal, ""},
	// Left with health documents on purpose, noted so that nobody "fixes" them by accident.
	"80788-3": {spaceDocuments, "medico-social support plan, not a treatment plan"},
	"96874-3": {spaceDocuments, "a certificate; the vaccination itself reaches the profile through 11369-6/87273-9"},
	"74465-6": {spaceDocuments, "class 90 in X04, but not necessarily deposited by the patient"},
}

// Kinds of author, by the code system a J01/J48 code belongs to.
const (
	kindHealth = "health" // a health profession (professionnel de santé)
	kindSocial = "social" // a non-health profession: social, medico-social, title holders, roles
	kindOther  = "other"  // not a profession: the insurer's feed, a device, software, the patient
)

// kindOf maps the code systems of J01 and J48 to a kind. A code system we do not know stops the
// generator: a new one needs a decision, not a default.
var kindOf = map[string]string{
	"1.2.250.1.213.1.1.4.5":   kindHealth, // TRE_A02-ProfessionSavFaire-CISIS: G15_*, G16_* and specialties
	"1.2.250.1.213.1.6.1.4":   kindSocial, // TRE_R94-ProfessionSocial
	"1.2.250.1.213.1.6.1.107": kindSocial, // TRE_R85-RolePriseCharge
	"1.2.250.1.213.1.6.1.109": kindSocial, // TRE_R95-UsagerTitre (ostéopathe, psychologue, …)
	"1.2.250.1.213.1.1.4.6":   kindOther,  // TRE_A00-ProducteurDocNonPS (ALIM_AM, DISPOSITIF, …)
}
