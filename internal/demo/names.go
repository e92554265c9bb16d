package demo

// Common French given names and family names (INSEE frequency lists, public data), and towns
// with their department, for synthetic identities. No real person is meant.
var (
	femaleNames = []string{"Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie", "Isabelle", "Sylvie", "Anne",
		"Martine", "Christine", "Sophie", "Sandrine", "Valérie", "Céline", "Julie", "Camille", "Léa", "Manon", "Chloé", "Emma",
		"Inès", "Jade", "Louise", "Alice", "Lina", "Rose", "Anna", "Léna", "Zoé", "Hélène", "Claire", "Élodie", "Aurélie",
		"Laura", "Pauline", "Mathilde", "Juliette", "Charlotte", "Margaux"}
	maleNames = []string{"Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Bernard", "Jacques", "Daniel", "Patrick",
		"Nicolas", "Christophe", "Stéphane", "David", "Julien", "Thomas", "Alexandre", "Maxime", "Lucas", "Hugo", "Gabriel",
		"Louis", "Raphaël", "Arthur", "Jules", "Adam", "Léo", "Paul", "Nathan", "Théo", "Antoine", "Guillaume", "Mathieu",
		"François", "Olivier", "Laurent", "Sébastien", "Vincent", "Étienne", "Yann"}
	familyNames = []string{"MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU", "LAURENT",
		"SIMON", "MICHEL", "LEFÈVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BONNET", "DUPONT",
		"LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT", "MULLER", "LEFEBVRE", "FAURE", "ANDRÉ", "MERCIER", "BLANC", "GUÉRIN",
		"BOYER", "GARNIER", "CHEVALIER", "FRANÇOIS", "LEGRAND", "GAUTHIER", "GARCIA", "PERRIN", "ROBIN", "CLÉMENT", "MORIN",
		"NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "GAUTIER", "MASSON"}
	towns = []struct{ Name, Dept, Commune string }{
		{"Paris", "75", "056"}, {"Marseille", "13", "055"}, {"Lyon", "69", "123"}, {"Toulouse", "31", "555"},
		{"Nice", "06", "088"}, {"Nantes", "44", "109"}, {"Strasbourg", "67", "482"}, {"Montpellier", "34", "172"},
		{"Bordeaux", "33", "063"}, {"Lille", "59", "350"}, {"Rennes", "35", "238"}, {"Reims", "51", "454"},
		{"Brest", "29", "019"}, {"Dijon", "21", "231"}, {"Grenoble", "38", "185"}, {"Angers", "49", "007"},
	}
)
