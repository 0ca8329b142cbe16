/** Validation issues ({path: "nodes[3].config.width", nodeId}) mapped onto the node and the field they name. */
import type { Issue, WfNode } from "../api/types";

export interface Located {
  nodeId?: string;
  field?: string;
  message: string;
  code?: string;
}

const NODE_PATH = /^nodes\[(\d+)\](?:\.config(?:\.([A-Za-z0-9_]+))?)?/;

export function locate(issue: Issue, nodes: WfNode[]): Located {
  const match = issue.path ? NODE_PATH.exec(issue.path) : null;
  const byIndex = match ? nodes[Number(match[1])]?.id : undefined;
  return {
    nodeId: issue.nodeId ?? byIndex,
    field: match?.[2],
    message: issue.message,
    code: issue.code,
  };
}

export interface IssueIndex {
  byNode: Record<string, Located[]>;
  byField: Record<string, Record<string, string>>;
  general: Located[];
}

export function indexIssues(issues: Issue[], nodes: WfNode[]): IssueIndex {
  const index: IssueIndex = { byNode: {}, byField: {}, general: [] };
  for (const issue of issues) {
    const located = locate(issue, nodes);
    if (!located.nodeId) {
      index.general.push(located);
      continue;
    }
    (index.byNode[located.nodeId] ??= []).push(located);
    if (located.field) {
      const fields = (index.byField[located.nodeId] ??= {});
      fields[located.field] ??= located.message;
    }
  }
  return index;
}
