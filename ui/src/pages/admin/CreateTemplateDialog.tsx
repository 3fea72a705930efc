import { useState, type FormEvent } from 'react';
import { ApiError, errorMessage, post } from '../../api';
import type { Build, Template } from '../../types';
import { Dialog, ErrorText } from '../../components/Dialog';
import { Field } from '../../components/Field';

const numeric = ['vcpus', 'memory_mb', 'disk_size_mb', 'hc_interval', 'hc_timeout', 'hc_retries', 'hc_start'] as const;
type Form = Record<'name' | 'base' | 'recipe' | 'start_cmd' | 'hc_cmd' | (typeof numeric)[number], string>;

/** buildRequest turns the form into the POST /v1/admin/builds body, or answers field errors. */
export function buildRequest(f: Form): { body?: Record<string, unknown>; errors: Partial<Form> } {
  const errors: Partial<Form> = {};
  if (!f.name.trim()) errors.name = 'Name is required';
  for (const k of numeric) {
    if (f[k].trim() !== '' && !/^\d+$/.test(f[k].trim())) errors[k] = 'Must be a whole number';
  }
  if (f.hc_cmd.trim() && !f.start_cmd.trim()) errors.start_cmd = 'A healthcheck needs a start command';
  if (Object.keys(errors).length) return { errors };
  const n = (v: string) => (v.trim() === '' ? undefined : Number(v));
  const body: Record<string, unknown> = {
    name: f.name.trim(),
    base_template: f.base.trim() || 'base',
    recipe: f.recipe.split('\n').map((l) => l.trim()).filter(Boolean),
  };
  if (f.start_cmd.trim()) body.start_cmd = f.start_cmd.trim();
  if (f.hc_cmd.trim()) {
    body.healthcheck = {
      cmd: f.hc_cmd.trim(),
      interval_sec: n(f.hc_interval),
      timeout_sec: n(f.hc_timeout),
      retries: n(f.hc_retries),
      start_period_sec: n(f.hc_start),
    };
  }
  for (const k of ['vcpus', 'memory_mb', 'disk_size_mb'] as const) if (n(f[k]) !== undefined) body[k] = n(f[k]);
  return { body, errors };
}

export function CreateTemplateDialog({ templates, onClose, onSubmitted }: {
  templates: Template[];
  onClose: () => void;
  onSubmitted: (b: Build) => void;
}) {
  const [f, setF] = useState<Form>({
    name: '', base: 'base', recipe: '', start_cmd: '', hc_cmd: '', vcpus: '', memory_mb: '', disk_size_mb: '',
    hc_interval: '', hc_timeout: '', hc_retries: '', hc_start: '',
  });
  const [errors, setErrors] = useState<Partial<Form>>({});
  const [serverError, setServerError] = useState('');
  const [busy, setBusy] = useState(false);
  const bind = (k: keyof Form) => ({ value: f[k], onChange: (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value }) });
  const bases = Array.from(new Set(['base', ...templates.map((t) => t.name)]));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { body, errors: errs } = buildRequest(f);
    setErrors(errs);
    setServerError('');
    if (!body) return;
    setBusy(true);
    try {
      onSubmitted(await post<Build>('/v1/admin/builds', body));
    } catch (err) {
      setServerError(errorMessage(err));
      const map: Record<string, keyof Form> = { name: 'name', base_template: 'base', recipe: 'recipe', start_cmd: 'start_cmd', vcpus: 'vcpus', memory_mb: 'memory_mb', disk_size_mb: 'disk_size_mb' };
      const field = err instanceof ApiError && err.field ? map[err.field.split(/[.[]/)[0]] : undefined;
      if (field) setErrors({ [field]: errorMessage(err) });
      setBusy(false);
    }
  };

  return (
    <Dialog title="Create template" onClose={onClose} wide>
      <form onSubmit={submit} noValidate className="form">
        <div className="grid2">
          <Field label="Name" error={errors.name}>{(p) => <input {...p} {...bind('name')} placeholder="python-3.12" />}</Field>
          <Field label="Base template" error={errors.base}>
            {(p) => (
              <select {...p} {...bind('base')}>
                {bases.map((b) => <option key={b} value={b}>{b}</option>)}
              </select>
            )}
          </Field>
        </div>
        <Field label="Recipe" error={errors.recipe} hint="One shell command per line, run in order as root.">
          {(p) => <textarea {...p} {...bind('recipe')} rows={6} className="mono" placeholder={'apt-get update\napt-get install -y python3'} spellCheck={false} />}
        </Field>
        <Field label="Start command" error={errors.start_cmd} hint="Optional: with it, the template is a snapshot of the running command.">
          {(p) => <input {...p} {...bind('start_cmd')} className="mono" />}
        </Field>
        <fieldset>
          <legend>Healthcheck (optional)</legend>
          <Field label="Healthcheck command" error={errors.hc_cmd}>{(p) => <input {...p} {...bind('hc_cmd')} className="mono" placeholder="curl -f localhost:8000/health" />}</Field>
          <div className="grid4">
            <Field label="Interval (s)" error={errors.hc_interval}>{(p) => <input {...p} {...bind('hc_interval')} inputMode="numeric" />}</Field>
            <Field label="Timeout (s)" error={errors.hc_timeout}>{(p) => <input {...p} {...bind('hc_timeout')} inputMode="numeric" />}</Field>
            <Field label="Retries" error={errors.hc_retries}>{(p) => <input {...p} {...bind('hc_retries')} inputMode="numeric" />}</Field>
            <Field label="Start period (s)" error={errors.hc_start}>{(p) => <input {...p} {...bind('hc_start')} inputMode="numeric" />}</Field>
          </div>
        </fieldset>
        <div className="grid4">
          <Field label="vCPUs" error={errors.vcpus}>{(p) => <input {...p} {...bind('vcpus')} inputMode="numeric" placeholder="default" />}</Field>
          <Field label="Memory (MiB)" error={errors.memory_mb}>{(p) => <input {...p} {...bind('memory_mb')} inputMode="numeric" placeholder="default" />}</Field>
          <Field label="Disk (MiB)" error={errors.disk_size_mb}>{(p) => <input {...p} {...bind('disk_size_mb')} inputMode="numeric" placeholder="default" />}</Field>
        </div>
        {serverError && <ErrorText message={serverError} />}
        <div className="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={busy}>{busy ? 'Submitting…' : 'Start build'}</button>
        </div>
      </form>
    </Dialog>
  );
}
