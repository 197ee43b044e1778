package gateway

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// condition builds one status condition. Every condition carries the
// generation of the object it describes, as the spec requires; the status
// writer keeps an unchanged condition's lastTransitionTime.
func condition(typ string, ok bool, reason, msg string, gen int64, now metav1.Time) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	if msg == "" {
		msg = reason
	}
	return metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: now}
}

// issue is a reason and message pair: the first problem found with a
// listener, a parent reference or a set of references.
type issue struct {
	reason, msg string
}

func (i *issue) set(reason, msg string) {
	if i.reason == "" {
		i.reason, i.msg = reason, msg
	}
}

func (i *issue) ok() bool { return i.reason == "" }
