import { useCallback, useState } from 'react';
import { useGet } from '../../query';
import { useQueryParams } from '../../searchParams';
import type { Build, List, Template } from '../../types';
import { Badge } from '../../components/Badge';
import { Show } from '../../components/States';
import { Tabs } from '../../components/Tabs';
import { bytes, mib, when } from '../../format';
import { BuildsTab } from './Builds';
import { CreateTemplateDialog } from './CreateTemplateDialog';

function replicas(t: Template): string {
  if (Array.isArray(t.replicas)) return t.replicas.length ? t.replicas.join(', ') : '0';
  return t.replicas === undefined ? '—' : String(t.replicas);
}

/** AdminTemplates has two tabs: every team's templates, and the builds that make them. */
export function AdminTemplates() {
  const [query, setQuery] = useQueryParams();
  const tab = query.get('tab') === 'builds' ? 'builds' : 'templates';
  const [creating, setCreating] = useState(false);
  const [buildsVersion, setBuildsVersion] = useState(0);
  const templates = useGet<List<Template>>('/v1/admin/templates?limit=200');
  const reloadTemplates = templates.refetch;
  const onBuildFinished = useCallback(() => void reloadTemplates(), [reloadTemplates]);

  const onSubmitted = (_b: Build) => {
    setCreating(false);
    setBuildsVersion((v) => v + 1);
    setQuery({ tab: 'builds' });
  };

  return (
    <section aria-labelledby="at-title">
      <div className="page-head">
        <h1 id="at-title">Templates</h1>
        <div className="toolbar">
          <button type="button" className="primary" onClick={() => setCreating(true)}>Create template</button>
        </div>
      </div>
      <Tabs
        label="Templates and builds"
        current={tab}
        onChange={(id) => setQuery({ tab: id === 'builds' ? 'builds' : '' })}
        tabs={[{ id: 'templates', label: 'Templates' }, { id: 'builds', label: 'Builds' }]}
      />
      <div role="tabpanel" id="panel-templates" aria-labelledby="tab-templates" hidden={tab !== 'templates'}>
        <Show load={templates} what="templates" isEmpty={(d) => d.items.length === 0} empty={<p>No templates yet. Create one: it is built from a recipe.</p>}>
          {(d) => (
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Team</th>
                  <th scope="col">Type</th>
                  <th scope="col">Size</th>
                  <th scope="col">vCPU</th>
                  <th scope="col">Memory</th>
                  <th scope="col">Replicas</th>
                  <th scope="col">Build</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {d.items.map((t) => (
                  <tr key={t.id} data-testid="admin-template-row">
                    <td><strong>{t.name}</strong><div className="mono small muted">{t.id}</div></td>
                    <td>{t.platform ? <Badge status="platform" label="platform" /> : t.team_name ?? t.team_id}</td>
                    <td>{t.type}</td>
                    <td>{bytes(t.size_bytes)}</td>
                    <td>{t.vcpus}</td>
                    <td>{mib(t.memory_mb)}</td>
                    <td>{replicas(t)}</td>
                    <td className="mono small">{t.build_id ?? '—'}</td>
                    <td>{when(t.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Show>
      </div>
      <div role="tabpanel" id="panel-builds" aria-labelledby="tab-builds" hidden={tab !== 'builds'}>
        <BuildsTab key={buildsVersion} onBuildFinished={onBuildFinished} />
      </div>
      {creating && (
        <CreateTemplateDialog
          templates={templates.data?.items ?? []}
          onClose={() => setCreating(false)}
          onSubmitted={onSubmitted}
        />
      )}
    </section>
  );
}
