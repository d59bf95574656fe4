{{/*
Pieces every pod of the chart shares: the hardened security contexts, the writable /tmp, the settings from the
ConfigMap and the Secret, and scheduling. Each workload template composes them; none repeats them. Each piece
ends with its list (volumes, volumeMounts, env), so a template may append its own items right after it.
*/}}

{{/*
Pod-level settings: pass the root context.
*/}}
{{- define "flashsale.podCommon" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  # The root filesystem is read-only; Python, uvicorn and the metrics' multiprocess files write here only.
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/*
Container-level settings: image, security context, the /tmp mount. Pass the root context.
*/}}
{{- define "flashsale.containerCommon" -}}
image: {{ include "flashsale.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end }}

{{/*
Environment: the ConfigMap's FLASHSALE_* settings and the Secret keys the process needs.
Pass (dict "root" $ "keys" (list "redis-url" ...)) and optionally "secret" (a Secret name) and "config" (false
to leave the ConfigMap out, as the migration hook does: it runs before the ConfigMap exists).
*/}}
{{- define "flashsale.env" -}}
{{- $secret := default (include "flashsale.secretName" .root) .secret -}}
{{- $vars := dict "jwt-secret" "FLASHSALE_JWT_SECRET" "redis-url" "FLASHSALE_REDIS_URL" "amqp-url" "FLASHSALE_AMQP_URL" "rabbitmq-api-url" "FLASHSALE_RABBITMQ_API_URL" "mysql-url" "FLASHSALE_MYSQL_URL" -}}
{{- if ne (toString .config) "false" }}
envFrom:
  - configMapRef:
      name: {{ include "flashsale.configName" .root }}
{{- end }}
env:
  # Libraries that look for a home directory (caches, configuration) find a writable one.
  - name: HOME
    value: /tmp
  {{- range .keys }}
  - name: {{ index $vars . }}
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ . }}
  {{- end }}
{{- end }}

{{/*
A container's resources: pass the component's resources map.
*/}}
{{- define "flashsale.resources" -}}
resources:
  {{- toYaml (default (dict) .) | nindent 2 }}
{{- end }}
