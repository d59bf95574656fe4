{{/*
Names, labels, the image and the Secret every template shares. Other templates (the monitoring ones too) use
these instead of spelling names themselves.
*/}}

{{- define "flashsale.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's base name; every object is "<fullname>-<component>". It is kept short enough that the longest
suffix ("-timeouts-metrics") still fits the 63 characters of a DNS label.
*/}}
{{- define "flashsale.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "flashsale.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels (pass the root context).
*/}}
{{- define "flashsale.labels" -}}
helm.sh/chart: {{ include "flashsale.chart" . }}
app.kubernetes.io/name: {{ include "flashsale.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: flashsale
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels of one component: pass (dict "root" $ "component" "api").
*/}}
{{- define "flashsale.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flashsale.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Common and selector labels of one component: pass (dict "root" $ "component" "api").
*/}}
{{- define "flashsale.componentLabels" -}}
{{ include "flashsale.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
The image every role runs (the command picks the role). A digest, when given, pins it.
*/}}
{{- define "flashsale.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag | toString) -}}
{{- end -}}
{{- end }}

{{/*
The Secret that holds the JWT key and the stores' URLs: the one you name, or the one the chart generates.
*/}}
{{- define "flashsale.secretName" -}}
{{- default (printf "%s-secrets" (include "flashsale.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "flashsale.configName" -}}
{{- printf "%s-config" (include "flashsale.fullname" .) }}
{{- end }}

{{- define "flashsale.operatorServiceAccountName" -}}
{{- printf "%s-operator" (include "flashsale.fullname" .) }}
{{- end }}

{{/*
The namespace the operator watches: the one given, or the release's.
*/}}
{{- define "flashsale.watchNamespace" -}}
{{- default .Release.Namespace .Values.operator.watchNamespace }}
{{- end }}

{{/*
Refuse a grace period shorter than the process's drain plus a margin: Kubernetes would SIGKILL it mid-drain.
Pass (dict "name" "api" "grace" 30 "drain" 25).
*/}}
{{- define "flashsale.checkGrace" -}}
{{- if lt (int .grace) (int (add .drain 5)) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%v) must be at least its drain time (%v s) plus 5 s" .name .grace .drain) -}}
{{- end -}}
{{- end }}

{{/*
Cluster-scoped objects (the operator's ClusterRoles and bindings) carry the namespace in their name, so two
releases in two namespaces never share one.
*/}}
{{- define "flashsale.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "flashsale.fullname" .) | trunc 46 | trimSuffix "-" }}-operator
{{- end }}
