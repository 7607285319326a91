{{/*
Shared names, labels and image references of the dropwatch-operator chart.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "dropwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Prefix of every resource name: fullnameOverride, else the release name when it already contains
the chart name, else "<release>-<chart>". Cut to 52 characters so suffixed names stay within 63.
*/}}
{{- define "dropwatch.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "dropwatch.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object of the release. */}}
{{- define "dropwatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dropwatch-operator
{{- end -}}

{{/* Labels of the operator's own objects (Deployment, its pods, Service, RBAC). */}}
{{- define "dropwatch.operatorLabels" -}}
app.kubernetes.io/name: {{ include "dropwatch.name" . }}
app.kubernetes.io/component: operator
{{ include "dropwatch.labels" . }}
{{- end -}}

{{/* Selector of the operator pods (immutable on the Deployment: keep it small and stable). */}}
{{- define "dropwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dropwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/*
Labels of the agent's objects made by the chart (ServiceAccount, RBAC, admission policy). The
agent pods themselves carry app.kubernetes.io/name=dropwatch-agent, set by the operator
(src/domain/daemonset-plan.ts); the PodMonitor selects on it.
*/}}
{{- define "dropwatch.agentLabels" -}}
app.kubernetes.io/name: dropwatch-agent
app.kubernetes.io/component: agent
{{ include "dropwatch.labels" . }}
{{- end -}}

{{/* The operator's ServiceAccount name. */}}
{{- define "dropwatch.serviceAccountName" -}}
{{- default (include "dropwatch.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The agents' ServiceAccount name. */}}
{{- define "dropwatch.agentServiceAccountName" -}}
{{- .Values.agent.serviceAccount.name -}}
{{- end -}}

{{/*
An image reference from {repository, tag, digest}: repository@digest when a digest is set,
else repository:tag with the chart's appVersion as the default tag.
Call as: include "dropwatch.image" (dict "image" .Values.image "root" .)
*/}}
{{- define "dropwatch.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}
