'use strict';
// Drag a rectangle on a scanned page to mark a region to black out
// (templates/admin/moderation/includes/scan_page.html). The drag only fills in
// the page's form (x, y, width and height in percent of the page); the
// moderator then presses its "Redact" button, a normal submit. Without this
// file the form is filled in by hand. What it says comes from the form's
// data-selected-text attribute, in the page's language, with {left}, {top},
// {width} and {height} where the numbers go.
{
    const SVG = 'http://www.w3.org/2000/svg';
    // A drag shorter than this (percent of the page) is a click, not a region.
    const SMALLEST = 0.5;

    const clamp = (value) => Math.min(100, Math.max(0, value));
    const round = (value) => Math.round(value * 100) / 100;
    const fill = (template, values) => template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));

    const setUp = (canvas) => {
        const form = document.getElementById(canvas.getAttribute('data-redact-form') || '');
        const image = canvas.querySelector('img');
        const overlay = canvas.querySelector('svg');
        if (!form || !image || !overlay) {
            return;
        }
        const field = (name) => form.querySelector(`input[name="${name}"]`);
        const status = form.querySelector('.redact-status');
        const numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined, { maximumFractionDigits: 2 });
        let start = null;
        let selection = null;

        canvas.classList.add('is-drawable');

        // Where the pointer is, in percent of the image as shown.
        const at = (event) => {
            const box = image.getBoundingClientRect();
            return {
                x: clamp(((event.clientX - box.left) / box.width) * 100),
                y: clamp(((event.clientY - box.top) / box.height) * 100),
            };
        };

        const region = (from, to) => ({
            left: round(Math.min(from.x, to.x)),
            top: round(Math.min(from.y, to.y)),
            width: round(Math.abs(to.x - from.x)),
            height: round(Math.abs(to.y - from.y)),
        });

        const draw = (marked) => {
            if (!selection) {
                selection = document.createElementNS(SVG, 'rect');
                selection.setAttribute('class', 'scan-selection');
                overlay.appendChild(selection);
            }
            selection.setAttribute('x', `${marked.left}%`);
            selection.setAttribute('y', `${marked.top}%`);
            selection.setAttribute('width', `${marked.width}%`);
            selection.setAttribute('height', `${marked.height}%`);
        };

        canvas.addEventListener('pointerdown', (event) => {
            // Touch scrolls the page as usual; a region is then typed in the form.
            if (event.button !== 0 || event.pointerType === 'touch') {
                return;
            }
            event.preventDefault();
            start = at(event);
            canvas.setPointerCapture(event.pointerId);
        });

        canvas.addEventListener('pointermove', (event) => {
            if (start) {
                draw(region(start, at(event)));
            }
        });

        const finish = (event) => {
            if (!start) {
                return;
            }
            const marked = region(start, at(event));
            start = null;
            if (marked.width < SMALLEST || marked.height < SMALLEST) {
                if (selection) {
                    selection.remove();
                    selection = null;
                }
                return;
            }
            draw(marked);
            field('x').value = marked.left;
            field('y').value = marked.top;
            field('width').value = marked.width;
            field('height').value = marked.height;
            if (status) {
                const shown = {};
                for (const name of ['left', 'top', 'width', 'height']) {
                    shown[name] = numberFormat.format(marked[name]);
                }
                status.textContent = fill(form.getAttribute('data-selected-text') || 'Region marked: {left}% from the left, {top}% from the top, {width}% wide and {height}% high. Press \u201cRedact\u201d to black it out.', shown);
            }
        };

        canvas.addEventListener('pointerup', finish);
        canvas.addEventListener('pointercancel', () => {
            start = null;
        });
    };

    document.querySelectorAll('.scan-canvas[data-redact-form]').forEach(setUp);
}
