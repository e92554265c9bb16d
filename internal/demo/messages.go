package demo

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// Thread is a conversation of the demonstration population (DOMAIN.md, secure health
// messaging): a professional writes first to a patient's mailbox, the patient may answer, and
// the professional may end the exchange ([FIN]), after which the patient can no longer answer.
type Thread struct {
	Person int // index of the patient among Population.People (an adult)
	Pro    int // index of the professional among Population.Pros
	Lines  []Line
}

// Line is one message of a thread, in the order they are sent.
type Line struct {
	FromPatient bool
	Subject     string // the professional's messages; an answer takes "Re: " and the subject answered
	Body        string
	End         bool // the professional ends the conversation (subject [FIN] and X-MSS-MES: FIN)
}

// Ended reports whether the thread's last message ends the conversation.
func (t Thread) Ended() bool { return len(t.Lines) > 0 && t.Lines[len(t.Lines)-1].End }

// Threads draws the conversations of pop, deterministically from seed: about half of the
// adults hear from one or two of the doctors (two different ones, on two topics); some messages stay unanswered, some are answered
// and answered back, some conversations end with [FIN], before or after the patient's answer.
// Children get none: their mailbox is their parents' to read.
func Threads(pop Population, seed uint64) []Thread {
	r := rand.New(rand.NewPCG(seed, 0x6d61696c))
	var doctors []int
	for i, p := range pop.Pros {
		if p.Profession == "G15_10" {
			doctors = append(doctors, i)
		}
	}
	if len(doctors) == 0 {
		for i := range pop.Pros {
			doctors = append(doctors, i)
		}
	}
	var out []Thread
	for i, p := range pop.People {
		// The first person is the demonstration patient (Seed's sign-in): they always have a
		// conversation they can answer, so that a newcomer finds every page of the mailbox.
		if p.Parent >= 0 || len(doctors) == 0 || (i > 0 && r.IntN(2) == 0) {
			continue
		}
		// Two threads of one person are with two doctors and on two topics: a conversation is
		// the pair of mailboxes, and the topic tells the threads apart in the mailbox.
		n := 1 + r.IntN(2)
		if len(doctors) < 2 {
			n = 1
		}
		d0, t0 := r.IntN(len(doctors)), r.IntN(len(topics))
		for k := range n {
			t := topics[(t0+k)%len(topics)]
			th := Thread{Person: i, Pro: doctors[(d0+k)%len(doctors)]}
			th.Lines = append(th.Lines, Line{Subject: t.subject, Body: t.body})
			kind := r.IntN(4)
			if i == 0 && k == 0 {
				kind %= 2 // left open
			}
			switch kind {
			case 0: // a message the patient does not answer
			case 1: // answered, and answered back
				th.Lines = append(th.Lines, Line{FromPatient: true, Body: t.answer},
					Line{Subject: "Re: " + t.subject, Body: t.followUp})
			case 2: // answered, then ended
				th.Lines = append(th.Lines, Line{FromPatient: true, Body: t.answer},
					Line{Subject: "[FIN]", Body: t.followUp + "\n\nJe clos cette conversation : pour toute autre question, prenez rendez-vous.", End: true})
			case 3: // an information that calls for no answer, ended at once
				th.Lines[0].End = true
			}
			out = append(out, th)
		}
	}
	return out
}

// messages sends person i's threads through the portal's messaging (mail.Portal): the
// professional's Write (the access decision, their PER mailbox made at first use, the
// acceptance of submitted mail: encrypted, delivered, traced, the patient notified) and the
// patient's Reply to the message just received (refused after a [FIN], by the same rules as
// everywhere). It returns the messages sent.
func messages(ctx context.Context, m *mail.Portal, pop Population, threads []Thread, pid int64) (int, error) {
	sent := 0
	patient := holder(pid).Actor
	for _, th := range threads {
		pro := pop.Pros[th.Pro]
		actor := access.Actor{Kind: audit.ActorProfessional, ID: pro.IdNat.String(), Name: "Dr " + pro.Given + " " + pro.Family,
			Profession: pro.Profession, Specialty: specialty(pro)}
		for _, l := range th.Lines {
			if !l.FromPatient {
				if _, err := m.Write(ctx, actor, audit.ChannelWeb, pid, l.Subject, l.Body, l.End, nil); err != nil {
					return sent, fmt.Errorf("message of %s: %w", pro.IdNat, err)
				}
				sent++
				continue
			}
			// The patient opens their messages and answers the newest one: the professional's
			// message just sent.
			in, err := m.Inbox(ctx, patient, audit.ChannelWeb, pid)
			if err != nil {
				return sent, err
			}
			var id int64
			for _, s := range in.Messages {
				if s.Incoming {
					id = s.ID
					break
				}
			}
			if id == 0 {
				return sent, errs.E(errs.Internal, "demo: no message to answer")
			}
			if _, err := m.Reply(ctx, patient, audit.ChannelWeb, id, l.Body, nil); err != nil {
				return sent, fmt.Errorf("answer to %s: %w", pro.IdNat, err)
			}
			sent++
		}
	}
	return sent, nil
}

type topic struct{ subject, body, answer, followUp string }

var topics = []topic{
	{"Résultats de votre bilan sanguin",
		"Bonjour,\n\nJ'ai reçu les résultats de votre prise de sang : la glycémie et le bilan lipidique sont dans les normes. Le compte rendu est dans votre dossier médical.\n\nBien cordialement,",
		"Bonjour Docteur,\n\nMerci pour ces nouvelles rassurantes. Faut-il refaire un bilan l'an prochain ?\n\nCordialement,",
		"Oui, un bilan annuel suffit. Je vous le prescrirai lors de votre prochaine consultation."},
	{"Rendez-vous de contrôle",
		"Bonjour,\n\nSuite à votre consultation, je vous propose un rendez-vous de contrôle dans trois semaines. Merci de prendre rendez-vous auprès du secrétariat.",
		"Bonjour,\n\nJe suis absente ces semaines-là : serait-il possible de décaler d'un mois ?",
		"Un décalage d'un mois ne pose pas de problème. Poursuivez le traitement d'ici là."},
	{"Votre ordonnance",
		"Bonjour,\n\nVotre ordonnance de renouvellement est disponible dans votre dossier médical (rubrique Documents). Vous pouvez la présenter à votre pharmacie.",
		"Merci Docteur. La pharmacie me demande si le générique convient.",
		"Oui, le générique convient tout à fait."},
	{"Vaccination contre la grippe",
		"Bonjour,\n\nLa campagne de vaccination contre la grippe saisonnière a commencé. Vous faites partie des personnes à qui elle est recommandée : vous pouvez vous faire vacciner au cabinet ou en pharmacie.",
		"Bonjour,\n\nPuis-je faire le vaccin contre le Covid le même jour ?",
		"Oui, les deux vaccins peuvent être faits le même jour, un dans chaque bras."},
	{"Compte rendu d'échographie",
		"Bonjour,\n\nLe compte rendu de votre échographie abdominale a été déposé dans votre dossier médical. Il ne montre pas d'anomalie.",
		"Merci beaucoup. Dois-je continuer le régime conseillé ?",
		"Oui, poursuivez-le encore un mois, puis nous ferons le point."},
}
