{{/*
The chart name, or nameOverride.
*/}}
{{- define "order.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of every resource. A release named "order" (or one whose name
contains the chart name) is used as is, so the Service is reachable as
order:8080, as the ingress expects.
*/}}
{{- define "order.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The helm.sh/chart label value.
*/}}
{{- define "order.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource of the service: the common labels and its component.
*/}}
{{- define "order.labels" -}}
{{ include "order.commonLabels" . }}
app.kubernetes.io/component: api
{{- end }}

{{/*
Labels on the `helm test` hook pod: the common labels and component "test",
so that no selector of the service (Service, PodDisruptionBudget, topology
spread) counts it as one of the service's pods.
*/}}
{{- define "order.testLabels" -}}
{{ include "order.commonLabels" . }}
app.kubernetes.io/component: test
{{- end }}

{{/*
The app.kubernetes.io labels every object of the release carries, but its component.
*/}}
{{- define "order.commonLabels" -}}
helm.sh/chart: {{ include "order.chart" . }}
app.kubernetes.io/name: {{ include "order.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimAll "-_." | quote }}
app.kubernetes.io/part-of: travluk
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the service's pods; they never change across upgrades
(a Deployment's selector is immutable). The component keeps the test hook pod
out of every selector.
*/}}
{{- define "order.selectorLabels" -}}
app.kubernetes.io/name: {{ include "order.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "order.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "order.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The container image reference.
*/}}
{{- define "order.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The image the `helm test` hook runs.
*/}}
{{- define "order.testImage" -}}
{{- printf "%s:%s" .Values.tests.image.repository .Values.tests.image.tag }}
{{- end }}
