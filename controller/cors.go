package controller

var corsAnnotations []annotationGroup
