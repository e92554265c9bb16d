// Package questionnaire is in charge of the forms organisations send to patients through
// their mailbox (pre-admission forms, satisfaction surveys, as in the hospital journeys): a
// FHIR R4 Questionnaire attached to a message is found by the inspection of the delivery
// (Inspector), checked and kept for that patient and message; the patient fills it in the
// portal, and the answer, a QuestionnaireResponse, goes back to the sender as a reply in the
// conversation (Service.Answer) and is readable by the sender through the FHIR API
// (Service.Response, Service.Responses).
//
// Only what can be shown as a plain server-side form is accepted: the item types group,
// display, boolean, decimal, integer, date, dateTime, string, text, choice and open-choice
// (answerOption valueCoding or valueString), with required, repeats on the choices and
// maxLength. A questionnaire that needs more (enableWhen, value sets to expand, calculated
// items, attachments) is refused with a reason the sender can act on, rather than offered in
// a form that would not ask what it says.
package questionnaire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds of a questionnaire we accept (our defaults): a real pre-admission form has a few
// dozen questions on a few levels; these leave room and keep a hostile one cheap.
const (
	MaxBytes     = 512 << 10 // the JSON text
	MaxJSONDepth = 40        // nesting of JSON objects and arrays
	MaxItemDepth = 5         // nesting of items (groups in groups)
	MaxItems     = 400       // every item, at every level
	MaxOptions   = 100       // answerOption of one item
	maxText      = 2000      // characters of a label or a title
	maxLinkID    = 255       // FHIR string, ours: a linkId is a key, not a text
)

// Type is an item's type (FHIR R4 item-type), only those we support.
type Type string

const (
	Group      Type = "group"
	Display    Type = "display"
	Boolean    Type = "boolean"
	Decimal    Type = "decimal"
	Integer    Type = "integer"
	Date       Type = "date"
	DateTime   Type = "dateTime"
	String     Type = "string"
	Text       Type = "text"
	Choice     Type = "choice"
	OpenChoice Type = "open-choice"
)

func (t Type) supported() bool {
	switch t {
	case Group, Display, Boolean, Decimal, Integer, Date, DateTime, String, Text, Choice, OpenChoice:
		return true
	}
	return false
}

// Questionnaire is a parsed, checked questionnaire.
type Questionnaire struct {
	ID      string
	URL     string
	Version string
	Name    string
	Title   string
	Items   []Item
}

// Item is a question, a group of them or a text shown.
type Item struct {
	LinkID    string
	Prefix    string
	Text      string
	Type      Type
	Required  bool
	Repeats   bool
	MaxLength int // 0: none
	Options   []Option
	Items     []Item
}

// Option is an answerOption: a coding or a string.
type Option struct {
	Coding *Coding
	String string
}

// Label is what the form shows of an option.
func (o Option) Label() string {
	if o.Coding == nil {
		return o.String
	}
	if o.Coding.Display != "" {
		return o.Coding.Display
	}
	return o.Coding.Code
}

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system,omitempty"`
	Version string `json:"version,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// Canonical is what a QuestionnaireResponse names its questionnaire by: url|version, or the
// url alone; "" when the questionnaire has no url (the caller names it by reference).
func (q Questionnaire) Canonical() string {
	if q.URL == "" {
		return ""
	}
	if q.Version != "" {
		return q.URL + "|" + q.Version
	}
	return q.URL
}

// DisplayTitle is the title, else the name, else "".
func (q Questionnaire) DisplayTitle() string {
	if q.Title != "" {
		return q.Title
	}
	return q.Name
}

// Problem is why a questionnaire is refused. Its texts name elements and rules, never what
// the questionnaire says: they may be logged and sent back.
type Problem struct {
	Code string // QUESTIONNAIRE_INVALIDE, QUESTIONNAIRE_NON_SUPPORTE, QUESTIONNAIRE_TROP_GROS
	Path string // e.g. "Questionnaire.item[2].item[0].type"
	Msg  string // in French: the sender reads it in the error form of an acknowledgement
}

func (p *Problem) Error() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + " : " + p.Msg
}

// Failure is the "code^label" of an MSSanté acknowledgement's error form (DOMAIN.md).
func (p *Problem) Failure() string {
	return p.Code + "^" + strings.ReplaceAll(p.Error(), "^", " ")
}

const (
	codeInvalid     = "QUESTIONNAIRE_INVALIDE"
	codeUnsupported = "QUESTIONNAIRE_NON_SUPPORTE"
	codeTooBig      = "QUESTIONNAIRE_TROP_GROS"
)

func invalid(path, format string, args ...any) *Problem {
	return &Problem{Code: codeInvalid, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(path, format string, args ...any) *Problem {
	return &Problem{Code: codeUnsupported, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// IsQuestionnaire reports whether b looks like a FHIR Questionnaire in JSON: its top-level
// resourceType says so. It reads a bounded prefix and never fails.
func IsQuestionnaire(b []byte) bool {
	if len(b) > MaxBytes*4 {
		return false
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || !jsonDepthOK(b, MaxJSONDepth*4) {
		return false
	}
	return json.Unmarshal(b, &head) == nil && head.ResourceType == "Questionnaire"
}

// jsonDepthOK reports whether the nesting of objects and arrays of b stays within max. It
// runs before any decoding so that a deeply nested text costs a scan, not a recursion.
func jsonDepthOK(b []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

type rawQuestionnaire struct {
	ResourceType      string          `json:"resourceType"`
	ID                string          `json:"id"`
	URL               string          `json:"url"`
	Version           string          `json:"version"`
	Name              string          `json:"name"`
	Title             string          `json:"title"`
	Status            string          `json:"status"`
	ModifierExtension json.RawMessage `json:"modifierExtension"`
	Item              []rawItem       `json:"item"`
}

type rawItem struct {
	LinkID            string          `json:"linkId"`
	Prefix            string          `json:"prefix"`
	Text              string          `json:"text"`
	Type              string          `json:"type"`
	Required          *bool           `json:"required"`
	Repeats           *bool           `json:"repeats"`
	ReadOnly          *bool           `json:"readOnly"`
	MaxLength         *int            `json:"maxLength"`
	EnableWhen        json.RawMessage `json:"enableWhen"`
	AnswerValueSet    string          `json:"answerValueSet"`
	AnswerOption      []rawOption     `json:"answerOption"`
	Initial           json.RawMessage `json:"initial"`
	ModifierExtension json.RawMessage `json:"modifierExtension"`
	Item              []rawItem       `json:"item"`
}

type rawOption struct {
	ValueCoding     *Coding         `json:"valueCoding"`
	ValueString     *string         `json:"valueString"`
	ValueInteger    json.RawMessage `json:"valueInteger"`
	ValueDate       json.RawMessage `json:"valueDate"`
	ValueTime       json.RawMessage `json:"valueTime"`
	ValueReference  json.RawMessage `json:"valueReference"`
	InitialSelected *bool           `json:"initialSelected"`
}

// Parse reads and checks a FHIR R4 Questionnaire in JSON. It refuses, with a *Problem, what
// is not a questionnaire, what breaks the rules of FHIR we rely on (a linkId on every item,
// unique; options on the choices; maxLength only on text answers) and what the portal cannot
// ask as written (see the package comment). It never panics, whatever b holds.
func Parse(b []byte) (Questionnaire, error) {
	if len(b) > MaxBytes {
		return Questionnaire{}, &Problem{Code: codeTooBig, Msg: fmt.Sprintf("le questionnaire dépasse %d Ko", MaxBytes>>10)}
	}
	if !utf8.Valid(b) {
		return Questionnaire{}, invalid("", "le questionnaire n'est pas du texte UTF-8")
	}
	if !jsonDepthOK(b, MaxJSONDepth) {
		return Questionnaire{}, &Problem{Code: codeTooBig, Msg: "le questionnaire est imbriqué trop profondément"}
	}
	var raw rawQuestionnaire
	if err := json.Unmarshal(b, &raw); err != nil {
		return Questionnaire{}, invalid("", "le questionnaire n'est pas un JSON FHIR lisible")
	}
	if raw.ResourceType != "Questionnaire" {
		return Questionnaire{}, invalid("resourceType", "la ressource n'est pas un Questionnaire")
	}
	if len(raw.ModifierExtension) > 0 && string(raw.ModifierExtension) != "null" {
		return Questionnaire{}, unsupported("Questionnaire.modifierExtension", "une extension modificatrice n'est pas prise en charge")
	}
	switch raw.Status {
	case "draft", "active", "retired", "unknown":
	default:
		return Questionnaire{}, invalid("Questionnaire.status", "le statut est absent ou inconnu")
	}
	q := Questionnaire{ID: raw.ID, URL: strings.TrimSpace(raw.URL), Version: strings.TrimSpace(raw.Version),
		Name: clean(raw.Name), Title: clean(raw.Title)}
	for _, s := range []struct{ v, path string }{{q.URL, "url"}, {q.Version, "version"}, {q.ID, "id"}} {
		if len(s.v) > maxText || strings.ContainsAny(s.v, "| \t\r\n") && s.path != "version" {
			return Questionnaire{}, invalid("Questionnaire."+s.path, "la valeur n'est pas valide")
		}
	}
	if strings.Contains(q.Version, "|") {
		return Questionnaire{}, invalid("Questionnaire.version", "la valeur n'est pas valide")
	}
	if len([]rune(q.Title)) > maxText || len([]rune(q.Name)) > maxText {
		return Questionnaire{}, invalid("Questionnaire.title", "le titre est trop long")
	}
	if len(raw.Item) == 0 {
		return Questionnaire{}, invalid("Questionnaire.item", "le questionnaire ne pose aucune question")
	}
	p := parser{seen: map[string]bool{}}
	items, err := p.items(raw.Item, "Questionnaire", 1)
	if err != nil {
		return Questionnaire{}, err
	}
	if p.questions == 0 {
		return Questionnaire{}, invalid("Questionnaire.item", "le questionnaire ne pose aucune question")
	}
	q.Items = items
	return q, nil
}

type parser struct {
	seen      map[string]bool
	count     int
	questions int
}

func (p *parser) items(raw []rawItem, parent string, depth int) ([]Item, error) {
	if depth > MaxItemDepth {
		return nil, &Problem{Code: codeTooBig, Path: parent, Msg: fmt.Sprintf("les groupes sont imbriqués sur plus de %d niveaux", MaxItemDepth)}
	}
	out := make([]Item, 0, len(raw))
	for i, r := range raw {
		path := fmt.Sprintf("%s.item[%d]", parent, i)
		p.count++
		if p.count > MaxItems {
			return nil, &Problem{Code: codeTooBig, Msg: fmt.Sprintf("le questionnaire a plus de %d éléments", MaxItems)}
		}
		it, err := p.item(r, path, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

func (p *parser) item(r rawItem, path string, depth int) (Item, error) {
	it := Item{LinkID: r.LinkID, Prefix: clean(r.Prefix), Text: cleanText(r.Text), Type: Type(r.Type),
		Required: r.Required != nil && *r.Required, Repeats: r.Repeats != nil && *r.Repeats}
	switch {
	case strings.TrimSpace(it.LinkID) == "" || len(it.LinkID) > maxLinkID || !utf8.ValidString(it.LinkID):
		return Item{}, invalid(path+".linkId", "chaque élément doit avoir un linkId")
	case p.seen[it.LinkID]:
		return Item{}, invalid(path+".linkId", "le linkId est déjà celui d'un autre élément")
	case r.Type == "":
		return Item{}, invalid(path+".type", "le type est absent")
	case !it.Type.supported():
		return Item{}, unsupported(path+".type", "le type %q n'est pas pris en charge", bounded(r.Type, 40))
	case len(r.ModifierExtension) > 0 && string(r.ModifierExtension) != "null":
		return Item{}, unsupported(path+".modifierExtension", "une extension modificatrice n'est pas prise en charge")
	case len(r.EnableWhen) > 0 && string(r.EnableWhen) != "null":
		return Item{}, unsupported(path+".enableWhen", "les questions conditionnelles (enableWhen) ne sont pas prises en charge")
	case r.AnswerValueSet != "":
		return Item{}, unsupported(path+".answerValueSet", "les réponses tirées d'un jeu de valeurs (answerValueSet) ne sont pas prises en charge ; utilisez answerOption")
	case len([]rune(it.Text)) > maxText || len([]rune(it.Prefix)) > maxText:
		return Item{}, invalid(path+".text", "le libellé est trop long")
	}
	p.seen[it.LinkID] = true
	if it.Text == "" && it.Type != Group {
		return Item{}, invalid(path+".text", "l'élément n'a pas de libellé")
	}
	if r.ReadOnly != nil && *r.ReadOnly && it.Type != Display && it.Type != Group {
		return Item{}, unsupported(path+".readOnly", "les questions en lecture seule ne sont pas prises en charge")
	}
	if len(r.Initial) > 0 && string(r.Initial) != "null" && it.Type != Group && it.Type != Display {
		// An initial answer the form would not show: refused rather than silently dropped.
		return Item{}, unsupported(path+".initial", "les réponses initiales ne sont pas prises en charge")
	}
	if r.MaxLength != nil {
		if it.Type != String && it.Type != Text && it.Type != OpenChoice {
			return Item{}, invalid(path+".maxLength", "maxLength ne s'applique qu'aux réponses texte")
		}
		if *r.MaxLength <= 0 {
			return Item{}, invalid(path+".maxLength", "maxLength doit être positif")
		}
		it.MaxLength = *r.MaxLength
	}
	if it.Repeats && it.Type != Choice && it.Type != OpenChoice {
		return Item{}, unsupported(path+".repeats", "les réponses multiples ne sont prises en charge que pour les choix")
	}
	switch it.Type {
	case Group:
		if len(r.Item) == 0 {
			return Item{}, invalid(path+".item", "un groupe doit contenir des éléments")
		}
		if it.Repeats {
			return Item{}, unsupported(path+".repeats", "les groupes répétés ne sont pas pris en charge")
		}
		var err error
		if it.Items, err = p.items(r.Item, path, depth+1); err != nil {
			return Item{}, err
		}
		return it, nil
	case Display:
		if it.Required {
			return Item{}, invalid(path+".required", "un texte affiché ne peut pas être obligatoire")
		}
	default:
		p.questions++
	}
	if len(r.Item) > 0 {
		// FHIR allows items under a question (asked once it is answered): a plain form cannot.
		return Item{}, unsupported(path+".item", "les sous-questions d'une question ne sont pas prises en charge")
	}
	if len(r.AnswerOption) > 0 && it.Type != Choice && it.Type != OpenChoice {
		return Item{}, invalid(path+".answerOption", "answerOption ne s'applique qu'aux choix")
	}
	if it.Type == Choice || it.Type == OpenChoice {
		if len(r.AnswerOption) == 0 {
			return Item{}, invalid(path+".answerOption", "un choix doit proposer des réponses (answerOption)")
		}
		if len(r.AnswerOption) > MaxOptions {
			return Item{}, &Problem{Code: codeTooBig, Path: path + ".answerOption", Msg: fmt.Sprintf("plus de %d réponses proposées", MaxOptions)}
		}
		for j, o := range r.AnswerOption {
			op := fmt.Sprintf("%s.answerOption[%d]", path, j)
			if len(o.ValueInteger) > 0 || len(o.ValueDate) > 0 || len(o.ValueTime) > 0 || len(o.ValueReference) > 0 {
				return Item{}, unsupported(op, "seules les réponses valueCoding et valueString sont prises en charge")
			}
			switch {
			case o.ValueCoding != nil && o.ValueString == nil:
				c := *o.ValueCoding
				c.Display = clean(c.Display)
				if strings.TrimSpace(c.Code) == "" && c.Display == "" {
					return Item{}, invalid(op+".valueCoding", "la réponse n'a ni code ni libellé")
				}
				if len(c.Code) > maxLinkID || len(c.System) > maxText || len(c.Version) > maxText || len([]rune(c.Display)) > maxText {
					return Item{}, invalid(op+".valueCoding", "la réponse est trop longue")
				}
				it.Options = append(it.Options, Option{Coding: &c})
			case o.ValueString != nil && o.ValueCoding == nil:
				s := clean(*o.ValueString)
				if s == "" || len([]rune(s)) > maxText {
					return Item{}, invalid(op+".valueString", "la réponse est vide ou trop longue")
				}
				it.Options = append(it.Options, Option{String: s})
			default:
				return Item{}, invalid(op, "une réponse proposée a une et une seule valeur (valueCoding ou valueString)")
			}
		}
	}
	return it, nil
}

// clean keeps a label fit for a page: one line, no control or bidirectional characters.
func clean(s string) string {
	return strings.Join(strings.Fields(strings.Map(keep, s)), " ")
}

// cleanText is clean keeping line breaks (an item's text may be a paragraph).
func cleanText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = clean(l)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func keep(r rune) rune {
	switch {
	case r == '\n' || r == '\t':
		return ' '
	case r < ' ' || r == 0x7f || r == utf8.RuneError:
		return -1
	case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
		return -1
	}
	return r
}

func bounded(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// Questions returns the items that take answers, in order, with the groups they are in.
func (q Questionnaire) Questions() []Item {
	var out []Item
	var walk func([]Item)
	walk = func(items []Item) {
		for _, it := range items {
			switch it.Type {
			case Group:
				walk(it.Items)
			case Display:
			default:
				out = append(out, it)
			}
		}
	}
	walk(q.Items)
	return out
}
