package optout

import "testing"

// FuzzRow: a header and a record from outside never panic the parser, and an accepted row has
// a valid INS with its identifier system.
func FuzzRow(f *testing.F) {
	f.Add("ins,birth_name,given_names,birth_date,sex,email", "279035121518989,DUPONT,Marie,1979-03-05,F,m@example.fr")
	f.Add("ins;birth_name;given_names;birth_date;sex;parent_ins", "184122A12345697;X;Y;01/12/1984;M;279035121518989|x")
	f.Add("ins,ins_oid,birth_name,given_names,birth_date,sex,postal_address", "279035121518989,1.2.250.1.213.1.4.10,D,M,1979-03-05,U,\"1 rue, Paris\"")
	f.Fuzz(func(t *testing.T, header, record string) {
		h, err := ParseHeader(header)
		if err != nil {
			return
		}
		r := h.newReader(stringsReader(record))
		rec, err := r.Read()
		if err != nil {
			return
		}
		n, err := h.Row(rec)
		if err != nil {
			return
		}
		if !n.Patient.INS.System.IsINS() || len(n.Patient.INS.Matricule) != 15 {
			t.Fatalf("accepted a row with INS %+v", n.Patient.INS)
		}
	})
}
