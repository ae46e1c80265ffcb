'use strict';
// Keyboard shortcuts of the moderation item page
// (templates/admin/moderation/moderationitem/change_form.html). A decision key
// only gets its button ready: focus on it and a line saying what Enter will do,
// so a stray key never decides. Enter (the browser's own button press)
// confirms; Escape cancels (and leaves a text field). Without this file every
// control works by mouse.
//   A          approve (and go to the next item)
//   R, 1..9    reject for the reason with that number
//   E          escalate: type the note, then Ctrl+Enter
//   N, P       next item, previous item
// What it says comes from the page (the data-*-text attributes of
// #decision-status), in its language.
{
    const form = document.getElementById('decision-form');
    const status = document.getElementById('decision-status');
    const nextForm = document.getElementById('next-item-form');
    const previous = document.getElementById('previous-item');
    const approve = form && form.querySelector('button[value=approve]');
    const reject = form && form.querySelector('button[value=reject]');
    const escalate = form && form.querySelector('button[value=escalate]');
    const reasons = form ? Array.from(form.querySelectorAll('input[name=reason_code]')) : [];
    const note = form && form.querySelector('textarea[name=note]');
    let mode = '';

    const text = (name, fallback) => (status && status.getAttribute(`data-${name}-text`)) || fallback;
    const fill = (template, values) => template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));

    const say = (words) => {
        if (status) {
            status.textContent = words;
        }
    };

    const reasonLabel = (radio) => radio.labels[0].textContent.replace(/\s+/g, ' ').replace(/^\s*\d+\s*/, '').trim();

    const isTyping = (target) => target.closest && target.closest('textarea, select, input:not([type=radio]):not([type=checkbox]), [contenteditable]');

    const cancel = () => {
        mode = '';
        say('');
        if (document.activeElement && document.activeElement !== document.body) {
            document.activeElement.blur();
        }
    };

    const startReject = () => {
        mode = 'reject';
        const checked = reasons.find((radio) => radio.checked);
        (checked || reasons[0]).focus();
        say(fill(text('reject', 'Reject: press the number of the reason (1 to {reasons}). Esc cancels.'), { reasons: reasons.length }));
    };

    const pickReason = (radio) => {
        radio.checked = true;
        reject.focus();
        say(fill(text('reason', 'Press Enter to reject for \u201c{reason}\u201d and go to the next item (Tab to the note first to add one). Esc cancels.'), { reason: reasonLabel(radio) }));
    };

    document.addEventListener('keydown', (event) => {
        if (event.defaultPrevented || event.altKey || event.isComposing) {
            return;
        }
        if ((event.ctrlKey || event.metaKey) && event.key === 'Enter' && mode === 'escalate' && event.target === note) {
            event.preventDefault();
            escalate.focus();
            say(text('escalate-confirm', 'Press Enter to escalate this item to an admin. Esc cancels.'));
            return;
        }
        if (event.ctrlKey || event.metaKey) {
            return;
        }
        if (event.key === 'Escape') {
            // Also leaves the queue's search box (the admin focuses it on load).
            cancel();
            return;
        }
        if (isTyping(event.target)) {
            return;
        }
        const key = event.key.toLowerCase();
        if (form && key === 'a') {
            event.preventDefault();
            mode = 'approve';
            approve.focus();
            say(text('approve', 'Press Enter to approve and go to the next item. Esc cancels.'));
        } else if (form && key === 'r') {
            event.preventDefault();
            startReject();
        } else if (form && mode === 'reject' && /^[1-9]$/.test(key) && reasons[Number(key) - 1]) {
            event.preventDefault();
            pickReason(reasons[Number(key) - 1]);
        } else if (form && key === 'e') {
            event.preventDefault();
            mode = 'escalate';
            note.focus();
            say(text('escalate', 'Escalate: say why in the note, then press Ctrl+Enter. Esc cancels.'));
        } else if (key === 'n' && nextForm) {
            event.preventDefault();
            nextForm.requestSubmit();
        } else if (key === 'p' && previous) {
            event.preventDefault();
            window.location.assign(previous.href);
        }
    });
}
